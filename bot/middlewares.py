"""Per-update context for handlers: the person's language and stored preferences.

Handlers receive `lang` ("ko"/"en") and `prefs` (the user's stored preferences) by name.
A user who writes to the bot has evidently not blocked it, so a stored block mark is cleared.

aiogram handles updates as concurrent tasks; one person's updates are handled one at a time
here (a per-user lock), so their messages are answered in the order they were sent and two
first messages of a new user do not race to create the same user row.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.sender import CHANNEL, ChatSender
from bot.texts import normalize_language

if TYPE_CHECKING:
    from dreamreel.service import DreamService


class UserContextMiddleware(BaseMiddleware):
    """Adds `lang` and `prefs` to the handler data of every message and callback query."""

    def __init__(self, service: DreamService, sender: ChatSender) -> None:
        self.service = service
        self.sender = sender
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            data["prefs"] = {}
            data["lang"] = "en"
            return await handler(event, data)
        lock = self._locks.get(user.id)
        if lock is None:
            lock = self._locks[user.id] = asyncio.Lock()
        async with lock:
            prefs = await asyncio.to_thread(self.service.user_prefs, CHANNEL, str(user.id))
            await self.sender.unblock(user.id, prefs)
            if not prefs.get("language"):  # remember Telegram's language until /lang says otherwise
                prefs["language"] = normalize_language(user.language_code)
                await asyncio.to_thread(
                    self.service.update_user, CHANNEL, str(user.id), language=prefs["language"]
                )
            data["prefs"] = prefs
            data["lang"] = normalize_language(prefs["language"])
            return await handler(event, data)
