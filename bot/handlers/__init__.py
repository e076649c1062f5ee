"""Routers of the bot, in the order the dispatcher tries them."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import dreamer, moderator, video, voice


def routers() -> list[Router]:
    """Fresh routers (a router attaches to one dispatcher): moderator commands, video buttons,
    voice diaries, then the dreamer's commands and catch-all diary handler."""
    return [moderator.build_router(), video.build_router(), voice.build_router(), dreamer.build_router()]
