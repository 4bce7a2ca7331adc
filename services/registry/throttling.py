"""Sign-in throttling of the registry: attempts per client address, the delay answer."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from shared.errors import DomainError
from shared.middlewares import MAX_THROTTLE_KEYS
from shared.settings import Settings


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key, thread-safe, in memory.

    Keys are kept in the order they were last seen, so the ones whose window has passed sit at
    the front and are dropped a few at a time as later hits come: no request ever scans them all.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_THROTTLE_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def _forget_stale(self, now: float) -> None:
        # Amortised O(1): every key popped here was inserted by an earlier hit.
        while self._hits:
            oldest_key, oldest = next(iter(self._hits.items()))
            if oldest and oldest[-1] > now - self.window and len(self._hits) <= self.max_keys:
                return
            del self._hits[oldest_key]

    def hit(self, key: str) -> float:
        """Count one event; 0 when allowed, else the seconds to wait (the event is not counted)."""
        with self._lock:
            now = self.clock()
            hits = self._trim(key, now)
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            self._forget_stale(now)
            return 0.0

    def __len__(self) -> int:
        return len(self._hits)


class LoginGuard:
    """Sign-in throttling per client address.

    Kept in the process: with several API replicas behind a balancer each counts on its own, so
    one address may make at most replicas × configured attempts per window (still bounded;
    argon2 keeps each guess expensive). The delays per (login, address) are shared by every
    replica: they live in the registry's database (``services/registry/credentials.py``).
    """

    def __init__(self, settings: Settings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or Settings()
        self.addresses = SlidingWindow(self.settings.login_address_attempts,
                                       self.settings.login_address_window_seconds, clock)

    def before_attempt(self, address: str) -> None:
        wait = self.addresses.hit(address)
        if wait:
            raise too_many("LOGIN_THROTTLED", "Слишком много попыток входа с этого адреса. "
                           f"Повторите через {math.ceil(wait)} с", wait)


def login_delayed(remaining: float) -> DomainError:
    return too_many("LOGIN_DELAYED", "Слишком много неудачных попыток входа с этого адреса. "
                    f"Повторите через {math.ceil(remaining)} с", remaining)


def too_many(code: str, message: str, retry_after: float) -> DomainError:
    error = DomainError(code, message, 429)
    error.details = [{"retry_after": math.ceil(retry_after)}]
    return error
