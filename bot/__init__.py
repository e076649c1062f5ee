"""DreamReel's Telegram bot (aiogram 3). Entry point: `bot.app` (`run_bot`, `build_dispatcher`).

Kept import-free so `import bot` costs nothing; the bot talks to DreamReel only through the
`dreamreel` facade and never imports torch.
"""
