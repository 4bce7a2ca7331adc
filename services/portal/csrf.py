"""CSRF checks for the portal's cookie-authenticated forms."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from shared.errors import DomainError
from shared.metrics import security_event

CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token_for(session_token: str, secret: str) -> str:
    """A token bound to the session (double submit without server state): put it in each form."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(method: str, headers: Any, host_url: str, session_token: str | None,
               secret: str, submitted: str | None = None, require_token: bool = False) -> None:
    """Refuse a state-changing request that another site made the browser send.

    Two checks: the Origin (or, failing that, Referer) must be this site's own; and when
    ``require_token`` the form must carry ``csrf_token_for(session)``. A SameSite=Strict session
    cookie already keeps cross-site requests unauthenticated; these are the second line.
    """
    if method.upper() not in UNSAFE_METHODS:
        return
    try:
        _check(headers, host_url, session_token, secret, submitted, require_token)
    except DomainError as exc:
        # The portal answers its own refusals (an error page), so they are logged here.
        security_event("csrf_refused", reason=exc.code, target=urlsplit(host_url).netloc)
        raise


def _check(headers: Any, host_url: str, session_token: str | None, secret: str,
           submitted: str | None, require_token: bool) -> None:
    origin = headers.get("origin") or headers.get("referer")
    if origin:
        expected = urlsplit(host_url)
        got = urlsplit(origin)
        if (got.scheme, got.netloc) != (expected.scheme, expected.netloc):
            raise DomainError("CSRF_FAILED", "Запрос отправлен с чужого сайта и отклонён", 403)
    if require_token:
        expected_token = csrf_token_for(session_token or "", secret)
        if not submitted or not hmac.compare_digest(submitted, expected_token):
            raise DomainError("CSRF_FAILED", "Форма устарела: обновите страницу и отправьте снова",
                              403)
