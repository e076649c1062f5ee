"""One runner per job: a lease in the jobs table.

Two processes sharing a database (the bot and the API both recovering interrupted jobs, a CLI
`jobs run` next to a worker, a redelivered Celery task) must never run one job at once. A runner
claims the job by a conditional UPDATE of `lease_owner` ("host:pid:token") and `lease_until`,
renews it with every progress row, and clears it when the job rests. A lease whose holder is a
process of this machine that no longer exists (killed mid-render) is taken over at once;
others expire after LEASE_TIME of silence.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session

from dreamreel.errors import JobBusy, NotFound
from storage.db import Database
from storage.models import Job, utcnow

log = logging.getLogger(__name__)

# Long enough for a model that loads for minutes without a progress row.
LEASE_TIME = timedelta(minutes=15)

# The lease is the runner's bookkeeping, not a change a reader sees: `updated_at` (an onupdate
# column) keeps its value, or releasing the lease after `done` would move it a moment later.
_UNCHANGED: dict[str, Any] = {"updated_at": Job.updated_at}


class JobLease:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def claim(self, job_id: int) -> None:
        """Take the job's lease, or raise JobBusy naming the live process that holds it."""
        now = utcnow()
        with self.db.session() as s:
            free = or_(Job.lease_owner.is_(None), Job.lease_until < now, Job.lease_owner == self.owner)
            if _rowcount(s, self._take(job_id, free, now)):
                return
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"job {job_id}")
            holder = job.lease_owner or ""
            if _holder_is_dead(holder):
                log.warning("job %s: taking over the lease of %s, which is no longer running", job_id, holder)
                if _rowcount(s, self._take(job_id, Job.lease_owner == holder, now)):
                    return
        raise JobBusy(f"job {job_id} is being run by another process ({holder})")

    def renew(self, s: Session, job_id: int) -> None:
        """Extend the lease; call inside the session that writes a progress row."""
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == self.owner)
            .values(lease_until=utcnow() + LEASE_TIME, **_UNCHANGED)
        )

    def release(self, job_id: int) -> None:
        with self.db.session() as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None, **_UNCHANGED)
            )

    def _take(self, job_id: int, condition: Any, now: Any) -> Any:
        return (
            update(Job)
            .where(Job.id == job_id, condition)
            .values(lease_owner=self.owner, lease_until=now + LEASE_TIME, **_UNCHANGED)
        )


def _rowcount(s: Session, statement: Any) -> int:
    """Rows an UPDATE changed: how a conditional update tells whether it won."""
    return int(cast("CursorResult[Any]", s.execute(statement)).rowcount)


def _holder_is_dead(holder: str) -> bool:
    """True when the holder ("host:pid:token") is a process of this machine that has ended."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
