"""Per-update context for handlers: the person's language and stored preferences.

Handlers receive `lang` ("ko"/"en") and `prefs` (the user's stored preferences) by name.
A user who writes to the bot has evidently not blocked it, so a stored block mark is cleared.
"""

from __future__ import annotations

import asyncio
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

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        prefs: dict[str, Any] = {}
        if user is not None and not user.is_bot:
            prefs = await asyncio.to_thread(self.service.user_prefs, CHANNEL, str(user.id))
            await self.sender.unblock(user.id, prefs)
            if not prefs.get("language"):  # remember Telegram's language until /lang says otherwise
                prefs["language"] = normalize_language(user.language_code)
                await asyncio.to_thread(
                    self.service.update_user, CHANNEL, str(user.id), language=prefs["language"]
                )
        data["prefs"] = prefs
        data["lang"] = normalize_language(prefs.get("language") or (user.language_code if user else None))
        return await handler(event, data)
