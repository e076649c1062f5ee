"""Failed sign-ins counted per client address, in memory of this one process.

After `limit` failures from one address within `window` seconds, that address is refused until
its oldest counted failure is older than the window. Several API processes each count their own
failures (so an attacker behind a load balancer gets `limit` tries per process); a restart forgets.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SignInThrottle:
    """`retry_after(addr)` is 0 when `addr` may try, else the seconds until it may."""

    def __init__(self, limit: int = 5, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, addr: str, now: float) -> deque[float]:
        failures = self._failures.get(addr, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if failures:
            self._failures[addr] = failures
        else:
            self._failures.pop(addr, None)
        return failures

    def retry_after(self, addr: str) -> int:
        """Whole seconds `addr` must wait (0: it may try now)."""
        with self._lock:
            now = self._clock()
            failures = self._recent(addr, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(failures[-self.limit] + self.window - now + 0.999))

    def failed(self, addr: str) -> None:
        """Count one failed sign-in from `addr`."""
        with self._lock:
            now = self._clock()
            self._recent(addr, now)
            self._failures.setdefault(addr, deque()).append(now)
            if len(self._failures) > 10_000:  # many addresses: forget the ones with no recent failure
                for other in list(self._failures):
                    self._recent(other, now)

    def succeeded(self, addr: str) -> None:
        """A good sign-in from `addr` clears its failures."""
        with self._lock:
            self._failures.pop(addr, None)
