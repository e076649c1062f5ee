"""The bot's entry point: everything is wired here, explicitly.

    service = build_service(settings, background=True)   # jobs run on a worker thread
    bot = build_bot(settings)                             # talks to DREAMREEL_TELEGRAM_API_BASE
    dp = build_dispatcher(service, settings)              # routers + middleware + tracker
    await dp.start_polling(bot)

Handlers get their dependencies by name from the dispatcher's workflow data: `service`,
`settings`, `tracker` (status messages), `delivery` (videos, notices, review cards), plus `lang`
and `prefs` from `UserContextMiddleware`.

`run_bot(settings, webhook_url=None)` is what `dreamreel bot` calls: long polling by default,
or a webhook server that checks Telegram's X-Telegram-Bot-Api-Secret-Token header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import BotCommand, ErrorEvent

from bot.delivery import Delivery
from bot.handlers import routers
from bot.middlewares import UserContextMiddleware
from bot.progress import ProgressTracker
from bot.sender import ChatSender, FloodControlRetry
from dreamreel.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

CONSUMER = "telegram-bot"  # its place in the event feed is kept across restarts

COMMANDS = {
    "en": [
        ("start", "what DreamReel does"),
        ("help", "how to use it"),
        ("settings", "scenes, captions, clips"),
        ("history", "your recent dreams"),
        ("lang", "ko or en"),
    ],
    "ko": [
        ("start", "DreamReel 소개"),
        ("help", "사용법"),
        ("settings", "장면 수, 자막, 클립"),
        ("history", "최근 꿈 목록"),
        ("lang", "ko 또는 en"),
    ],
}


class BotConfigError(RuntimeError):
    """The bot cannot start with these settings (e.g. no token)."""


def build_bot(settings: Settings) -> Bot:
    """A Bot talking to `settings.telegram_api_base`, retrying requests refused by flood control."""
    if settings.telegram_token is None:
        raise BotConfigError("set DREAMREEL_TELEGRAM_TOKEN to the token @BotFather gave you")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    session.middleware(FloodControlRetry())
    return Bot(settings.telegram_token.get_secret_value(), session=session, default=DefaultBotProperties())


def build_dispatcher(service: DreamService, settings: Settings, *, status_interval: float = 1.0) -> Dispatcher:
    """The dispatcher with every router, the user-context middleware and the job tracker.

    `status_interval` is the least time between two edits of status messages in one chat.
    """
    sender = ChatSender(service)
    delivery = Delivery(service, settings, sender)
    tracker = ProgressTracker(service, delivery, min_interval=status_interval)
    dp = Dispatcher(service=service, settings=settings, sender=sender, delivery=delivery, tracker=tracker)

    context = UserContextMiddleware(service, sender)
    dp.message.outer_middleware(context)
    dp.callback_query.outer_middleware(context)
    dp.include_routers(*routers())
    dp.errors.register(on_forbidden, ExceptionTypeFilter(TelegramForbiddenError))
    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp


async def on_startup(bot: Bot, delivery: Delivery, tracker: ProgressTracker) -> None:
    delivery.bind(bot)
    tracker.start()
    try:
        for lang, commands in COMMANDS.items():
            await bot.set_my_commands(
                [BotCommand(command=c, description=d) for c, d in commands],
                language_code=None if lang == "en" else lang,
            )
    except TelegramAPIError as exc:  # a menu is a nicety; the bot works without it
        log.warning("could not set the command menu: %s", exc)


async def on_shutdown(tracker: ProgressTracker) -> None:
    await tracker.stop()


async def on_forbidden(event: ErrorEvent, sender: ChatSender) -> bool:
    """A handler's reply was refused with 403: the user blocked the bot; stop writing to them."""
    update = event.update
    user = None
    if update.message is not None:
        user = update.message.from_user
    elif update.callback_query is not None:
        user = update.callback_query.from_user
    if user is not None:
        await sender.mark_blocked(user.id, str(event.exception))
    return True


async def serve_polling(service: DreamService, settings: Settings, *, polling_timeout: int = 10) -> None:
    """Long polling until cancelled or signalled."""
    bot = build_bot(settings)
    dp = build_dispatcher(service, settings)
    try:
        await bot.delete_webhook(drop_pending_updates=False)  # polling and a webhook exclude each other
    except BaseException:
        await bot.session.close()
        raise
    await dp.start_polling(bot, polling_timeout=polling_timeout)  # closes the session when it stops


def build_webhook_app(service: DreamService, settings: Settings, webhook_url: str) -> tuple[web.Application, str]:
    """An aiohttp app serving Telegram's webhook calls at the path of `webhook_url`.

    Requests without the right X-Telegram-Bot-Api-Secret-Token header get 401. Returns the app
    and the secret (set on the webhook at start-up).
    """
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    bot = build_bot(settings)
    dp = build_dispatcher(service, settings)
    secret = (
        settings.telegram_webhook_secret.get_secret_value()
        if settings.telegram_webhook_secret
        else secrets.token_urlsafe(32)
    )
    path = urlparse(webhook_url).path or "/telegram"

    async def set_webhook(bot: Bot) -> None:
        await bot.set_webhook(webhook_url, secret_token=secret, drop_pending_updates=False)

    dp.startup.register(set_webhook)
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=path)
    setup_application(app, dp, bot=bot)
    return app, secret


def run_polling(settings: Settings) -> None:
    """Build the service with its background worker and serve long polling until interrupted."""
    from dreamreel.wiring import build_service

    service = build_service(settings, background=True, consumer=CONSUMER)
    try:
        resumed = service.recover_interrupted()
        if resumed:
            log.info("resumed %d interrupted job(s)", len(resumed))
        asyncio.run(serve_polling(service, settings))
    finally:
        service.close()


def run_bot(settings: Settings, webhook_url: str | None = None) -> int:
    """`dreamreel bot`: long polling, or a webhook server when `webhook_url` is given. Exit code."""
    if settings.telegram_token is None:
        log.error("set DREAMREEL_TELEGRAM_TOKEN to the token @BotFather gave you")
        return 2
    if not settings.moderator_ids:
        log.warning("DREAMREEL_MODERATOR_IDS is empty: nobody can approve or reject refused dreams in Telegram")
    if webhook_url is None:
        try:
            with contextlib.suppress(KeyboardInterrupt):
                run_polling(settings)
        except (TelegramNetworkError, TelegramUnauthorizedError) as exc:
            log.error("cannot reach the Bot API at %s: %s", settings.telegram_api_base, exc)
            return 1
        return 0

    from aiohttp import web

    from dreamreel.wiring import build_service

    service = build_service(settings, background=True, consumer=CONSUMER)
    try:
        service.recover_interrupted()
        app, _ = build_webhook_app(service, settings, webhook_url)
        host, _, port = settings.telegram_webhook_listen.rpartition(":")
        web.run_app(app, host=host or "127.0.0.1", port=int(port))
    finally:
        service.close()
    return 0
