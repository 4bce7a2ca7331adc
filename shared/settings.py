"""All configuration in one place: ``NASTAVNIK_*`` environment variables, sensible embedded defaults."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.contracts import API_PREFIXES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NASTAVNIK_", extra="ignore")

    data_dir: Path = Path("var")
    nats_url: str = ""
    #: Empty: SQLite files in the data folder. ``postgresql://user:pw@host:port/db[?schema=s]``.
    database_url: str = ""
    region: str = "demo"
    #: The region's time zone (IANA name): "today" and every date or time a user reads.
    time_zone: str = "Europe/Moscow"
    #: The pairing's weights, objective and reminder period (TOML); empty: the shipped defaults.
    pairing_config: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_level: str = "INFO"
    #: ``json`` lines for machines, ``console`` lines for a person; ``auto``: console on a terminal.
    log_format: Literal["auto", "json", "console"] = "auto"
    #: Secret for signing access tokens; read from ``<data_dir>/secrets/token.key`` when unset.
    token_secret: str = ""
    #: Services ``nastavnik up`` runs in processes of their own behind its one address, comma
    #: separated. ``auto``: monitoring, which consumes every service's events, when this process
    #: may use more than one core; empty: every service in one process.
    run_apart: Annotated[list[str], NoDecode, Field(validate_default=True)] = ["auto"]
    relay_batch: int = 1000
    relay_idle_seconds: float = 0.2
    # --- monitoring ---
    #: Seconds between the audit log's signed heads.
    audit_head_interval: float = 10.0
    #: Seconds between two looks of the reporting calendar for notices due.
    calendar_interval: float = 30.0
    # --- notifications by e-mail (services/monitoring/notifications) ---
    #: The region's SMTP server; empty: notifications stay in the portal's bell (``nastavnik up``
    #: starts a local catcher into ``<data_dir>/mail`` and points this at it).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_sender: str = "Наставник <nastavnik@localhost>"
    #: Seconds between two looks at the mail outbox (new notifications also wake it at once).
    mail_interval: float = 10.0
    #: The portal's public address (``https://nastavnik.region.ru``): each letter links to the
    #: page it is about there. Empty: ``nastavnik up`` uses its own API address; elsewhere the
    #: letters carry no link, as a guessed one could lead nowhere (or somewhere else).
    portal_url: str = ""
    #: A curator hears of a pair without meetings for this many days, and of a meeting whose
    #: feedback is still missing after ``feedback_reminder_days``.
    inactive_pair_days: int = 30
    feedback_reminder_days: int = 3
    # --- distributed mode (deploy/README.md) ---
    #: A ``.creds`` file (JWT + nkey seed), as issued by the region's NATS operator.
    nats_credentials: str = ""
    #: A file holding an nkey seed, for servers configured with plain nkey users.
    nats_nkey_seed: str = ""
    nats_user: str = ""
    nats_password: str = ""
    # --- bus security (shared/signing.py, shared/nats_server.py) ---
    #: JSON of NATS user -> password; a process connects as its service's user (``svc-<name>``)
    #: or the CLI's. Empty: ``<data_dir>/secrets/nats-users.json`` when the embedded server wrote it.
    nats_users_file: str = ""
    #: Service keys: ``keyring.json``/``exchange.json`` (every service's Ed25519/X25519 public
    #: keys), ``<service>.key`` and ``<service>.x25519.key`` (``shared/signing.py``).
    #: Empty: ``<data_dir>/secrets/signing``, generated on first use (embedded mode).
    event_keys_dir: str = ""
    #: /ready fails once a relay or a consumer has made no progress for this long.
    ready_stall_seconds: float = 30.0
    #: 3 on a NATS cluster: a stream survives the loss of one node.
    stream_replicas: int = 1
    #: How long to wait for NATS or the store at start before giving up (0: forever).
    connect_deadline_seconds: float = 120.0
    db_pool_size: int = 5
    #: One relay per event store publishes; others stand by. 0 turns the lease off.
    relay_lease_seconds: float = 10.0
    #: Told apart in leases and logs; defaults to host name and process id.
    instance_id: str = ""
    #: /ready fails while a consumer of this process is further behind than this.
    ready_max_lag: int = 100_000
    #: Reverse proxies (and the portal) whose X-Forwarded-For is believed: IPs or CIDRs, comma
    #: separated. Empty: the direct peer is the client, whatever a header claims.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # --- security: sessions, throttling, request limits, single sign-on ---
    #: Access tokens are short-lived; the refresh token (rotated on every use) keeps a session.
    access_token_minutes: int = 30
    refresh_token_hours: int = 12
    #: How long a participant's invitation code stays valid (``registry/invitations.py``).
    invitation_days: int = 30
    #: Wrong passwords for one login from one address before each next try must wait, and the
    #: longest wait (also how long a streak is remembered). Never a lock-out: other addresses
    #: are not held up (services/registry/credentials.py).
    login_max_failures: int = 5
    login_lockout_seconds: int = 15 * 60
    #: The first wait; it doubles with every further failure.
    login_delay_base_seconds: float = 2.0
    #: Password hashes computed at once (argon2: 19 MiB, ~25 ms of CPU); 0: one fewer than the cores.
    login_hash_concurrency: int = 0
    #: Nice value of the hashing threads (Linux): other requests first during a flood of
    #: sign-ins (tests/security/test_sign_in_attacks.py); 0 gives them the process's priority.
    login_hash_nice: int = 10
    #: Sign-in attempts one client address may make per window, whatever the login.
    login_address_attempts: int = 30
    login_address_window_seconds: int = 5 * 60
    #: API requests per minute per caller (token, or address when anonymous); 0 turns it off.
    api_requests_per_minute: int = 1200
    #: Largest JSON or form body a request may carry (uploads: ``MAX_UPLOAD_BYTES``). Generous
    #: for the largest legitimate command (thousands of pairs confirmed at once).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Bearer token Prometheus (or an operator's tool) presents for ``/metrics`` and the API
    #: documents (``/docs``, ``/redoc``, ``/openapi.json``); empty: only a regional or system
    #: user's access token opens them. Never open to anonymous callers (issue 18, Low).
    diagnostics_token: str = ""
    #: Send Strict-Transport-Security even when the app itself sees plain HTTP (TLS at the proxy).
    hsts: bool = False
    # --- personal data minimisation (152-ФЗ, ст. 5; ``shared.auth.personal_data_view``) ---
    #: Roles above the school that see children's names, birth dates and guardians as the
    #: school's curator does, comma separated (``municipal``, ``regional``, ``auditor``).
    #: Empty (the default): officials see figures and pseudonymous labels, auditors ids.
    names_visible_to: Annotated[list[str], NoDecode] = []
    # --- OIDC: a regional single sign-on; empty issuer keeps it off ---
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    #: Claims carrying the role and the organisation path (``region[/municipality[/org]]``).
    oidc_role_claim: str = "nastavnik_role"
    oidc_scope_claim: str = "nastavnik_scope"
    oidc_user_claim: str = "preferred_username"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        # Checked here so a typo stops the start instead of silently trusting nobody.
        return [str(ipaddress.ip_network(i.strip(), strict=False)) for i in items if i.strip()]

    @field_validator("run_apart", mode="before")
    @classmethod
    def _services_apart(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        names = [str(i).strip().lower() for i in items if str(i).strip()]
        if names == ["auto"]:
            return ["monitoring"] if len(os.sched_getaffinity(0)) > 1 else []
        unknown = sorted(set(names) - set(API_PREFIXES))
        if unknown:  # a typo must stop the start, not quietly run everything in one process
            raise ValueError(f"NASTAVNIK_RUN_APART: неизвестные сервисы {unknown}")
        return names

    @field_validator("names_visible_to", mode="before")
    @classmethod
    def _official_roles(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        roles = [str(i).strip().lower() for i in items if str(i).strip()]
        # A typo must stop the start, not silently keep (or open) names.
        unknown = sorted(set(roles) - {"municipal", "regional", "auditor"})
        if unknown:
            raise ValueError(f"NASTAVNIK_NAMES_VISIBLE_TO: неизвестные роли {unknown}")
        return roles

    @field_validator("portal_url")
    @classmethod
    def _portal_address(cls, value: str) -> str:
        # Checked here so a typo stops the start instead of mailing links that lead nowhere.
        value = value.strip().rstrip("/")
        if not value:
            return ""
        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError(f"NASTAVNIK_PORTAL_URL: нужен адрес вида https://портал.регион.ru, "
                             f"а не {value!r}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # Checked here so a misspelt zone stops the start instead of dating documents wrongly.
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r}: an IANA name, e.g. Europe/Moscow") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The region's time zone (``shared.localtime`` turns moments into its dates)."""
        return ZoneInfo(self.time_zone)  # zoneinfo caches each zone

    @property
    def secrets_dir(self) -> Path:
        path = self.data_dir / "secrets"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def service_dir(self, service: str) -> Path:
        path = self.data_dir / service
        # Owner only: the service's databases and files hold personal data.
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
        return path

    @cached_property
    def signing_secret(self) -> str:
        if self.token_secret:
            return self.token_secret
        return read_or_create_secret(self.secrets_dir / "token.key")

    @property
    def instance(self) -> str:
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def mails(self) -> bool:
        return bool(self.smtp_host)

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql", "postgres"))

    def postgres_parts(self) -> dict[str, str]:
        url = urlparse(self.database_url)
        query = dict(p.split("=", 1) for p in url.query.split("&") if "=" in p)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": url.path.lstrip("/") or "postgres",
            "schema": query.get("schema", ""),
        }


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Secrets live outside the repository, created once per deployment with tight permissions."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value)
    return value
