"""Sessions of the moderator web page, held in the database so they can be ended.

The cookie carries a random session id (signed by the API); the row decides whether it is still
good. A session ends when it expires, at sign-out, and when the moderator token it was opened
with is no longer configured. Only the SHA-256 of an id is stored.

    sessions = ModeratorSessions(db)
    sid = sessions.open("web:mina", token_id="1a2b3c4d5e6f")
    sessions.find(sid, valid_token_ids={"1a2b3c4d5e6f"})   # -> "web:mina"
    sessions.revoke(sid)                                    # sign-out: find() -> None from now on
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import select, update

from storage.db import Database
from storage.models import ModeratorSession, utcnow

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=12)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ModeratorSessions:
    """Open, look up and revoke moderator sessions."""

    def __init__(self, db: Database, ttl: timedelta = DEFAULT_TTL) -> None:
        self.db = db
        self.ttl = ttl

    def open(self, moderator: str, *, token_id: str) -> str:
        """A new session for `moderator` (signed in with the token whose key id is `token_id`);
        returns its id, to be put in the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.session() as s:
            s.add(ModeratorSession(id_hash=_hash(session_id), moderator=moderator, token_id=token_id,
                                   created_at=now, expires_at=now + self.ttl))
        return session_id

    def find(self, session_id: str, *, valid_token_ids: Collection[str]) -> str | None:
        """The moderator of a live session, or None (unknown, expired, revoked, or its token was
        removed: such a session is revoked here)."""
        with self.db.session() as s:
            row = s.scalar(select(ModeratorSession).where(ModeratorSession.id_hash == _hash(session_id),
                                                          ModeratorSession.revoked_at.is_(None),
                                                          ModeratorSession.expires_at > utcnow()))
            if row is None:
                return None
            if row.token_id not in valid_token_ids:
                row.revoked_at = utcnow()
                log.info("moderator session of %s revoked: its token was removed", row.moderator)
                return None
            return row.moderator

    def revoke(self, session_id: str) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        with self.db.session() as s:
            s.execute(update(ModeratorSession)
                      .where(ModeratorSession.id_hash == _hash(session_id), ModeratorSession.revoked_at.is_(None))
                      .values(revoked_at=utcnow()))

    def revoke_removed_tokens(self, valid_token_ids: Collection[str]) -> int:
        """End every live session whose token is not among `valid_token_ids`; returns how many."""
        with self.db.session() as s:
            result = s.execute(update(ModeratorSession)
                               .where(ModeratorSession.revoked_at.is_(None),
                                      ModeratorSession.expires_at > utcnow(),
                                      ModeratorSession.token_id.not_in(list(valid_token_ids)))
                               .values(revoked_at=utcnow()))
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.info("revoked %d moderator sessions whose token was removed", count)
        return count
