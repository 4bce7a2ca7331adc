"""Second-factor codes of the demo accounts for tests: what the demo's authenticator app shows.

The registry takes each TOTP time step once per account (a replayed code is refused) and accepts
the step before and after the current one (clock skew). Tests sign in as the same account many
times, so codes are handed out here in increasing steps per account and place (a base URL, a
database), starting at the current one: the current step and the next give two sign-ins at
once, and a third waits for the clock, as a person would wait for the next code.
"""

from __future__ import annotations

import threading
import time

import pyotp

from services.registry.accounts import DEMO_TOTP_SECRETS
from tests.conftest import wait_until

_last_step: dict[tuple[str, str], int] = {}
_lock = threading.Lock()


def needs_code(login: str) -> bool:
    return login in DEMO_TOTP_SECRETS


def demo_code(login: str, where: str = "") -> str:
    """A code of ``login``'s demo secret that ``where`` has not taken yet."""
    totp = pyotp.TOTP(DEMO_TOTP_SECRETS[login])
    with _lock:
        now = int(time.time()) // totp.interval
        step = max(now, _last_step.get((where, login), -1) + 1)
        _last_step[(where, login)] = step
    wait_until(lambda: step <= int(time.time()) // totp.interval + 1, timeout=2 * totp.interval,
               message="the next code of the authenticator")
    return totp.at(step * totp.interval)
