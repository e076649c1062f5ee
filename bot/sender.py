"""Telegram errors handled the way Telegram users expect, in one place.

- Flood control: the server answers 429 with `retry_after`; `FloodControlRetry` (a session
  middleware, so it covers every API call) waits that long and sends the request again.
- A user who blocked the bot: the server answers 403; `ChatSender` stops sending to that chat
  and records it with `service.update_user(..., blocked_bot=True)`. Writing to the bot again
  clears the mark (`unblock`).
- Editing a message to the text it already has is not an error worth a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

CHANNEL = "telegram"
T = TypeVar("T")


class FloodControlRetry(BaseRequestMiddleware):
    """Retry a request refused with 429 after the `retry_after` seconds the server asked for."""

    def __init__(self, attempts: int = 3, max_wait: float = 120.0) -> None:
        self.attempts = attempts
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                attempt += 1
                if attempt > self.attempts or exc.retry_after > self.max_wait:
                    raise
                log.warning(
                    "flood control on %s: waiting %ss (attempt %d of %d)",
                    method.__api_method__, exc.retry_after, attempt, self.attempts,
                )
                await asyncio.sleep(exc.retry_after)


class ChatSender:
    """Runs bot calls aimed at one chat, skipping chats whose user blocked the bot."""

    def __init__(self, service: DreamService) -> None:
        self.service = service
        self._blocked: set[int] = set()

    async def call(self, chat_id: int, request: Callable[[], Awaitable[T]]) -> T | None:
        """Await `request()` unless the chat is blocked; None when it was skipped or refused."""
        if chat_id in self._blocked:
            log.info("chat %s blocked the bot; not sending", chat_id)
            return None
        try:
            return await request()
        except TelegramForbiddenError as exc:
            await self.mark_blocked(chat_id, str(exc))
            return None
        except TelegramBadRequest as exc:
            if "message is not modified" in str(exc):
                return None
            raise

    async def mark_blocked(self, chat_id: int, reason: str = "") -> None:
        """Stop sending to `chat_id` and record it on the user (private chats: chat id = user id)."""
        if chat_id in self._blocked:
            return
        self._blocked.add(chat_id)
        log.warning("chat %s refused messages (%s); marking the user as having blocked the bot", chat_id, reason)
        if chat_id > 0:
            await asyncio.to_thread(self.service.update_user, CHANNEL, str(chat_id), blocked_bot=True)

    async def unblock(self, user_id: int, prefs: dict[str, Any] | None = None) -> None:
        """The user wrote to the bot, so they have not blocked it (any more)."""
        was_marked = bool(prefs and prefs.get("blocked_bot"))
        if user_id in self._blocked or was_marked:
            self._blocked.discard(user_id)
            await asyncio.to_thread(self.service.update_user, CHANNEL, str(user_id), blocked_bot=False)
