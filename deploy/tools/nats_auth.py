"""NATS server authorization for distributed mode: a user per service, per municipality, per edge.

A service may publish its own events and read every stream (it consumes other services'). Its
replies come to an inbox prefix of its own (:func:`shared.bus.inbox_prefix`, ``_INBOX_svc-<service>``)
that no other user may subscribe to, and only the service serving a request subject
(``nastavnik.rpc.<service>.>``) may subscribe to it: a name lookup's reply carries personal data,
its request the acting user's claims (signed by the calling service, ``shared.claims``; never a
token). Services publish replies into each other's inboxes by name. Only the registry may write
the bucket of revoked tokens (``shared.revocations``); the other services read it.
Of JetStream's API a service gets what it uses (``service_js_api``), never ``$JS.API.>``: it
reads every event stream, creates and changes only its own, deletes and purges none, and makes,
reads and deletes only its own durables, named ``<service>_<model>``, on the streams it reads
(``CONSUMERS``); deleting and purging streams are the operator's.
A municipality's credentials may publish and read only ``nastavnik.*.<region>.<municipality>.>``,
use JetStream only through one consumer of its own name whose filter the server pins to
those subjects (the filter is part of the API subject the permission names), and receive replies
only on an inbox prefix of its own (``_INBOX_mun-<region>-<municipality>``). A municipality's
leaf node may only answer its own JetStream domain's API and deliver what the hub's edge stream
sources from it: the region's event subjects never cross its link. No user means no access: the
server refuses anonymous clients once an ``authorization`` block lists users.

``nastavnik nats-auth`` (:func:`nats_auth_command`) writes everything a region needs, outside the
repository, mode 0600: the hub's and each leaf's authorization blocks, the route credentials,
and one env file per service (``NASTAVNIK_NATS_USER``/``NASTAVNIK_NATS_PASSWORD``). The layout
is described in deploy/README.md.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from deploy.tools.nats_js_api import CHECKPOINT_STREAM as CHECKPOINT_STREAM
from deploy.tools.nats_js_api import READS as READS
from deploy.tools.nats_js_api import service_js_api
from shared.auth import CODE_PATTERN
from shared.bus import AUDIT_HEADS_SUBJECT, inbox_prefix
from shared.contracts import REVOCATIONS_BUCKET, SOURCES, SUBJECT_ROOT, stream_name
from shared.signing import KEYRING_FILE, Keyring

SERVICES = (*SOURCES, "portal")
RPC_SUBJECTS = f"{SUBJECT_ROOT}.rpc.>"
#: Subjects outside ``nastavnik.<service>.>`` a service publishes to by design.
#: The audit log's checkpoints (``services.monitoring.audit.checkpoint_stream``) are monitoring's.
CHECKPOINTS_SUBJECT = f"{SUBJECT_ROOT}.audit.checkpoints"
EXTRA_PUBLISH: dict[str, tuple[str, ...]] = {"monitoring": (AUDIT_HEADS_SUBJECT, CHECKPOINTS_SUBJECT)}
#: Clients connect as STANDARD; a leaf node's user is good for nothing but a leaf connection.
CLIENT = ("STANDARD",)
LEAF = ("LEAFNODE",)
OPS_USER = "ops"
#: Who may write the bucket of revoked tokens (``shared.revocations``): the service that ends
#: sessions. Everyone else may read it and create it empty, never write, purge or delete it.
REVOCATIONS_WRITER = "registry"
REVOCATIONS_WRITES = (f"$KV.{REVOCATIONS_BUCKET}.>",
                      *(f"$JS.API.STREAM.{op}.KV_{REVOCATIONS_BUCKET}"
                        for op in ("PURGE", "DELETE", "UPDATE", "MSG.DELETE")))
ROUTE_USER = "route"


@dataclass(frozen=True)
class NatsUser:
    user: str
    password: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    connection_types: tuple[str, ...] = ()
    #: Subjects refused even where ``publish`` allows them (a deny wins in nats-server).
    deny_publish: tuple[str, ...] = ()

    def url(self, host: str, port: int) -> str:
        return f"nats://{self.user}:{self.password}@{host}:{port}"

    def to_dict(self) -> dict[str, object]:
        publish: dict[str, list[str]] = {"allow": list(self.publish)}
        if self.deny_publish:
            publish["deny"] = list(self.deny_publish)
        entry: dict[str, object] = {
            "user": self.user, "password": self.password,
            "permissions": {"publish": publish, "subscribe": {"allow": list(self.subscribe)}}}
        if self.connection_types:
            entry["allowed_connection_types"] = list(self.connection_types)
        return entry


@dataclass
class NatsAuthorization:
    users: list[NatsUser] = field(default_factory=list)

    def user(self, name: str) -> NatsUser:
        return next(u for u in self.users if u.user == name)

    def to_conf(self) -> str:
        """The ``authorization { ... }`` block of nats-server's configuration (JSON is valid there)."""
        users = [u.to_dict() for u in self.users]
        return "authorization " + json.dumps({"users": users}, ensure_ascii=False, indent=2) + "\n"


def municipality_user_name(region: str, municipality: str) -> str:
    return f"mun-{region}-{municipality}"


def leaf_user_name(region: str, municipality: str) -> str:
    return f"leaf-{region}-{municipality}"


def municipality_inbox(region: str, municipality: str) -> str:
    """Where a municipality's replies come: a prefix of its own, so no municipality can read the
    messages pulled by another (its client connects with ``inbox_prefix`` set to this, minus
    ``.>``; the ``nats`` CLI takes ``--inbox-prefix``)."""
    return f"{inbox_prefix(municipality_user_name(region, municipality))}.>"


def municipality_consumer(region: str, municipality: str) -> str:
    """The only JetStream consumer name a municipality's credentials may create and read."""
    return f"mun_{region}_{municipality}".replace("-", "_")


def service_user_name(service: str) -> str:
    return f"svc-{service}"


def service_inbox(service: str) -> str:
    """Where a service's replies come (the prefix :func:`shared.bus.connect` gives its user)."""
    return f"{inbox_prefix(service_user_name(service))}.>"


def service_user(service: str, password: str, peers: Sequence[str] = SERVICES,
                 edges: Sequence[str] = ()) -> NatsUser:
    """A service's user; ``peers``: the services whose requests it may answer (into their inboxes);
    ``edges``: the JetStream domains of the municipal leaves whose streams the hub copies.

    Explicit inboxes rather than ``allow_responses``: the server would track every delivered
    JetStream message's ack subject as a pending response, and past 4,096 of them scan the whole
    map at each delivery.
    """
    own = f"{SUBJECT_ROOT}.{service}.>"
    return NatsUser(
        user=service_user_name(service), password=password,
        # Services run the streams, relays, leases (KV) and request/reply between themselves.
        publish=(own, *EXTRA_PUBLISH.get(service, ()), RPC_SUBJECTS, *service_js_api(service, edges),
                 "$JS.FC.>", "$KV.>", *(service_inbox(peer) for peer in peers)),
        # Every event subject and the audit heads, but of request subjects only those it serves
        # (a request names the acting user), and of inboxes only its own.
        subscribe=(*(f"{SUBJECT_ROOT}.{source}.>" for source in SOURCES), AUDIT_HEADS_SUBJECT,
                   f"{SUBJECT_ROOT}.rpc.{service}.>", "$JS.>", "$KV.>", service_inbox(service)),
        connection_types=CLIENT,
        deny_publish=() if service == REVOCATIONS_WRITER else REVOCATIONS_WRITES,
    )


def municipality_user(region: str, municipality: str, password: str) -> NatsUser:
    subjects = f"{SUBJECT_ROOT}.*.{region}.{municipality}.>"
    consumer = municipality_consumer(region, municipality)
    streams = [stream_name(s) for s in SOURCES]
    js_api = ["$JS.API.INFO"]
    for stream in streams:
        js_api += [
            f"$JS.API.STREAM.INFO.{stream}",
            # Create/update names both the consumer and its filter: only its own, only its subjects.
            f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}.{subjects}",
            f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
            f"$JS.API.CONSUMER.DELETE.{stream}.{consumer}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    return NatsUser(
        user=municipality_user_name(region, municipality), password=password,
        publish=(subjects, *js_api),
        # Replies (JetStream API answers, pulled messages) come to the municipality's own inbox.
        subscribe=(subjects, municipality_inbox(region, municipality)),
        connection_types=CLIENT,
    )


def leaf_user(region: str, municipality: str, password: str, domain: str | None = None) -> NatsUser:
    """The hub-side user a municipality's leaf node connects as (its JetStream domain: the
    municipality's code unless given).

    On a leaf connection the permissions read from the hub's side: what the user may publish is
    what the leaf may send into the hub, what it may subscribe to is what the hub sends it. The
    hub's edge stream sources the leaf's stream: it calls the leaf's domain API, the leaf answers
    on ``$JSC.R.*`` and delivers on ``$JS.S.*``, the hub paces it with ``$JS.FC.*`` (observed
    against nats-server, see tests/integration/deploy). Event subjects are not in the list: they
    never cross the link as plain messages, even from a leaf whose own deny rules were removed.
    """
    domain = domain or municipality
    return NatsUser(
        user=leaf_user_name(region, municipality), password=password,
        publish=("$JS.S.>", "$JSC.R.>"),
        subscribe=(f"$JS.{domain}.API.>", "$JS.FC.>"),
        connection_types=LEAF,
    )


def ops_user(password: str) -> NatsUser:
    """The operator's tools (``nats`` CLI): stream backups and restores, the edge streams."""
    return NatsUser(
        user=OPS_USER, password=password,
        publish=("$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$JS.SNAPSHOT.>", "_INBOX.>"),
        subscribe=("_INBOX.>",),
        connection_types=CLIENT,
    )


def build_authorization(region: str, municipalities: Iterable[str],
                        services: Sequence[str] = SERVICES,
                        passwords: dict[str, str] | None = None) -> NatsAuthorization:
    """The hub's users: every service, every municipality (as a client and as a leaf node) and
    the operator; fresh random passwords unless given (pass the previous ones to keep
    credentials stable across regenerations)."""
    known = passwords or {}

    def password(name: str) -> str:
        return known.get(name) or secrets.token_urlsafe(24)

    municipalities = list(municipalities)
    users = [service_user(s, password(service_user_name(s)), services, municipalities) for s in services]
    for municipality in municipalities:
        name = municipality_user_name(region, municipality)
        users.append(municipality_user(region, municipality, password(name)))
        leaf = leaf_user_name(region, municipality)
        users.append(leaf_user(region, municipality, password(leaf)))
    users.append(ops_user(password(OPS_USER)))
    return NatsAuthorization(users)


def build_leaf_authorization(services: Sequence[str] = SERVICES,
                             passwords: dict[str, str] | None = None) -> NatsAuthorization:
    """A leaf node's own users: the municipality's services, which connect to it locally."""
    known = passwords or {}
    return NatsAuthorization([service_user(s, known.get(service_user_name(s)) or secrets.token_urlsafe(24),
                                           services) for s in services])


def write_secret(path: Path, text: str) -> Path:
    """A file only its owner reads: created 0600 before anything is written into it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path


def write_authorization(path: Path, authorization: NatsAuthorization) -> Path:
    """The authorization block as a file of its own (mode 0600): pass it to ``nats-server -c``
    alongside the usual flags, or ``include`` it from a cluster's configuration."""
    return write_secret(path, authorization.to_conf())


def routes_conf(password: str, hosts: Sequence[str]) -> str:
    """The cluster's route credentials and the routes carrying them (``include``d in ``cluster``).

    nats-server does not lend a route its own credentials: each route URL must carry them.
    """
    routes = [f"nats-route://{ROUTE_USER}:{password}@{host}" for host in hosts]
    return ("authorization " + json.dumps({"user": ROUTE_USER, "password": password}) + "\n"
            + "routes: " + json.dumps(routes, indent=2) + "\n")


def env_file(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def service_env(user: NatsUser) -> str:
    return env_file({"NASTAVNIK_NATS_USER": user.user, "NASTAVNIK_NATS_PASSWORD": user.password})


def leaf_hub_urls(user: NatsUser, hub_urls: Sequence[str]) -> str:
    """``LEAF_HUB_URLS`` for leaf.conf: nats-server parses an environment value as configuration,
    so a list of quoted URLs becomes the remote's ``urls`` (credentials in the URLs)."""
    urls = []
    for url in hub_urls:
        scheme, _, rest = url.partition("://")
        urls.append(f"{scheme}://{user.user}:{user.password}@{rest}")
    return json.dumps(urls)


@dataclass(frozen=True)
class RegionSecrets:
    """Where ``write_region`` put each file (see deploy/README.md for where each is mounted)."""

    out: Path

    @property
    def credentials(self) -> Path:
        return self.out / "credentials.json"

    @property
    def hub(self) -> Path:
        return self.out / "hub"

    def service_env(self, service: str) -> Path:
        return self.out / "services" / f"{service}.env"

    @property
    def ops_env(self) -> Path:
        return self.out / "ops.env"

    def leaf(self, municipality: str) -> Path:
        return self.out / "leaf" / municipality

    def keys(self, service: str) -> Path:
        """The service's key folder (``NASTAVNIK_EVENT_KEYS_DIR``): every public key, its own
        private ones (``shared.signing``)."""
        return self.out / "keys" / service


#: Who gets a key folder: the publishing services, and the portal (public keys only: it checks
#: the registry's signed revocations).
KEY_HOLDERS = (*SOURCES, "portal")


def write_keys(layout: RegionSecrets) -> None:
    """The services' signing and exchange keys, made once: a later run keeps them (remove the
    ``keys`` folder to rotate them all, with every service restarted at once)."""
    if all((layout.keys(s) / KEYRING_FILE).exists() for s in KEY_HOLDERS):
        return
    keyring = Keyring.generate()
    for holder in KEY_HOLDERS:
        keyring.for_service(holder).write(layout.keys(holder))


def write_region(out: Path, region: str, municipalities: Sequence[str],
                 route_hosts: Sequence[str], hub_leaf_urls: Sequence[str],
                 services: Sequence[str] = SERVICES) -> RegionSecrets:
    """Every NATS credential of a region, as files. Passwords already in ``credentials.json`` are
    kept, so adding a municipality does not rotate everyone else's; remove the file to rotate."""
    layout = RegionSecrets(out)
    known: dict[str, str] = {}
    if layout.credentials.exists():
        known = json.loads(layout.credentials.read_text())

    def password(name: str) -> str:
        known[name] = known.get(name) or secrets.token_urlsafe(24)
        return known[name]

    hub = build_authorization(region, municipalities, services,
                              {u: password(u) for u in hub_user_names(region, municipalities, services)})
    write_authorization(layout.hub / "auth.conf", hub)
    write_secret(layout.hub / "routes.conf", routes_conf(password(ROUTE_USER), route_hosts))
    for service in services:
        write_secret(layout.service_env(service), service_env(hub.user(f"svc-{service}")))
    ops = hub.user(OPS_USER)
    write_secret(layout.ops_env, env_file({"NATS_USER": ops.user, "NATS_PASSWORD": ops.password}))
    for municipality in municipalities:
        folder = layout.leaf(municipality)
        local = build_leaf_authorization(
            services, {f"svc-{s}": password(f"{municipality}/svc-{s}") for s in services})
        write_authorization(folder / "auth.conf", local)
        for service in services:
            write_secret(folder / "services" / f"{service}.env", service_env(local.user(f"svc-{service}")))
        link = hub.user(leaf_user_name(region, municipality))
        write_secret(folder / "leaf.env", env_file({
            "LEAF_NAME": f"leaf-{municipality}", "LEAF_DOMAIN": municipality,
            "LEAF_HUB_URLS": leaf_hub_urls(link, hub_leaf_urls)}))
    write_keys(layout)
    write_secret(layout.credentials, json.dumps(known, indent=2, sort_keys=True) + "\n")
    return layout


def hub_user_names(region: str, municipalities: Iterable[str], services: Sequence[str]) -> list[str]:
    names = [f"svc-{s}" for s in services]
    for municipality in municipalities:
        names += [municipality_user_name(region, municipality), leaf_user_name(region, municipality)]
    return [*names, OPS_USER]


REPOSITORY = Path(__file__).resolve().parents[1]


def nats_auth_command(
        out: Annotated[Path, typer.Option("--out", help="Папка для секретов (вне репозитория)")],
        region: Annotated[str, typer.Option(help="Код региона")],
        municipality: Annotated[list[str] | None, typer.Option(
            "--municipality", help="Код муниципалитета (повторяется)")] = None,
        route: Annotated[list[str] | None, typer.Option(
            "--route", help="Узел кластера NATS host:port (повторяется)")] = None,
        hub_leaf_url: Annotated[list[str] | None, typer.Option(
            "--hub-leaf-url", help="Адрес порта leaf-узлов хаба (повторяется)")] = None) -> None:
    """Выпустить учётные данные NATS региона: пользователи сервисов, муниципалитетов и leaf-узлов."""
    municipalities = municipality or []
    for code in [region, *municipalities]:
        if not CODE_PATTERN.match(code):
            raise typer.BadParameter(f"недопустимый код «{code}»: строчные латинские буквы, цифры, дефис")
    if out.resolve().is_relative_to(REPOSITORY):
        raise typer.BadParameter("секреты не хранят в репозитории: укажите папку вне его")
    layout = write_region(
        out, region, municipalities,
        route or ["nats-1:6222", "nats-2:6222", "nats-3:6222"],
        hub_leaf_url or ["tls://nats-leaf.region.example:7422"])
    typer.echo(f"Учётные данные NATS региона {region} записаны в {out} (только для владельца):")
    typer.echo(f"  {layout.hub}/auth.conf, routes.conf — узлам кластера (рядом с cluster.conf)")
    typer.echo(f"  {out}/services/<сервис>.env — сервисам (NASTAVNIK_NATS_USER/PASSWORD)")
    typer.echo(f"  {layout.ops_env} — инструментам оператора (nats CLI)")
    for code in municipalities:
        typer.echo(f"  {layout.leaf(code)}/ — leaf-узлу муниципалитета {code}")
