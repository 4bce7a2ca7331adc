"""The ``nastavnik`` command: run the system, serve one service, inspect events, issue tokens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import ServiceRuntime, create_app
from shared.nats_server import EmbeddedNats, free_port
from shared.resilience import DATABASE_UNAVAILABLE, STORE_TRANSIENT, retry_sync
from shared.settings import Settings
from shared.store import schema_setup_lock

app = typer.Typer(help="Наставник — региональная система наставничества", no_args_is_help=True)
DataDir = Annotated[Path, typer.Option("--data-dir", help="Папка данных")]
DEFAULT_DATA_DIR = Path(os.environ.get("NASTAVNIK_DATA_DIR", "var"))
# services whose runtime exists; each adds itself here and below
SERVICES = ("registry", "monitoring", "documents", "portal", "pairing")


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


#: The embedded portal calls the API over loopback on each user's behalf.
LOOPBACK_PROXIES = ("127.0.0.1/32", "::1/128")


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of ``nastavnik up``: every service in this process, the portal among them.

    The portal reaches the API at 127.0.0.1 and passes each user's address on in
    X-Forwarded-For; unless the loopback is trusted as a proxy, every portal sign-in would be
    throttled as one client. Set ``NASTAVNIK_TRUSTED_PROXIES`` (even empty) to decide otherwise.
    """
    settings = settings_for(data_dir, **overrides)
    chosen = any(name.upper() == "NASTAVNIK_TRUSTED_PROXIES" for name in os.environ)
    if not chosen and "trusted_proxies" not in overrides:
        settings.trusted_proxies = list(LOOPBACK_PROXIES)
    return settings


def runtimes_for(settings: Settings, names: tuple[str, ...] = SERVICES) -> list[ServiceRuntime]:
    from services.monitoring.runtime import MonitoringRuntime
    from services.registry.runtime import RegistryRuntime

    factories: dict[str, Any] = {"registry": RegistryRuntime}
    factories["monitoring"] = MonitoringRuntime
    from services.documents.runtime import DocumentsRuntime

    factories["documents"] = DocumentsRuntime
    from services.portal.runtime import PortalRuntime

    factories["portal"] = PortalRuntime
    from services.pairing.runtime import PairingRuntime

    factories["pairing"] = PairingRuntime
    # service runtimes: add "name": RuntimeClass above this line

    def build() -> list[ServiceRuntime]:
        with schema_setup_lock(settings):
            return [factories[name](settings) for name in names]

    if not settings.uses_postgres:
        return build()
    # PostgreSQL may refuse connections for a while (restarting, failing over, at its connection
    # limit): wait for it as for NATS, up to the same deadline, rather than exit at once.
    return retry_sync("store at start", build, deadline=settings.connect_deadline_seconds,
                      transient=(*STORE_TRANSIENT, *DATABASE_UNAVAILABLE))


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def read_run_info(data_dir: Path) -> dict[str, str]:
    path = data_dir / "run.json"
    if not path.exists():
        raise typer.BadParameter(f"{path} не найден: сначала запустите `nastavnik up`")
    return json.loads(path.read_text())


async def serve_until_stopped(settings: Settings, runtimes: list[ServiceRuntime],
                              after_start: Any = None) -> None:
    config = uvicorn.Config(create_app(settings, runtimes), host=settings.api_host,
                            port=settings.api_port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.05)
    if after_start is not None:
        await asyncio.to_thread(after_start)
    await serving


def run_stoppable(main: Any) -> None:
    """Run until Ctrl+C or SIGTERM, then return normally so every ``finally`` runs.

    uvicorn re-raises the signal it caught once it has shut down; turning SIGTERM into
    SystemExit here means the embedded nats-server is stopped rather than orphaned.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(main)


@app.command()
def up(demo: Annotated[bool, typer.Option("--demo", help="Загрузить демонстрационный регион")] = False,
       data_dir: DataDir = DEFAULT_DATA_DIR,
       port: Annotated[int, typer.Option(help="Порт API (0 — любой свободный)")] = 8000) -> None:
    """Запустить всю систему одной командой: NATS, все сервисы, API."""
    if port == 0 or not port_free(port):
        port = free_port()
    settings = embedded_settings(data_dir, api_port=port)
    with EmbeddedNats(data_dir / "nats", secrets_dir=settings.secrets_dir) as nats:
        settings.nats_url = nats.url
        api = f"http://127.0.0.1:{port}"

        def announce() -> None:
            # Written aside and renamed, so a reader never sees a half-written file.
            pending = data_dir / "run.json.tmp"
            pending.write_text(json.dumps({"api": api, "nats": nats.url}))
            pending.replace(data_dir / "run.json")
            typer.echo(f"API:  {api}  (документация: {api}/docs)")
            typer.echo(f"NATS: {nats.url}")
            if demo:
                from services.demo import DEMO_SEED, plan_region, run_demo

                run_demo(api, settings, plan_region(DEMO_SEED, region_code=settings.region), DEMO_SEED,
                         activity=True, echo=typer.echo, show_progress=False)
                from services.portal.auth import DEMO_PASSWORD, demo_accounts

                typer.echo(f"Портал: {api}/login — демо-входы по ролям (пароль {DEMO_PASSWORD}):")
                for account in demo_accounts(settings.region):
                    typer.echo(f"  {account.role.value:<10} {account.login:<22} {account.scope}")
            typer.echo("Остановить: Ctrl+C")

        try:
            run_stoppable(serve_until_stopped(settings, runtimes_for(settings), announce))
        finally:
            (data_dir / "run.json").unlink(missing_ok=True)
    typer.echo("Остановлено")


@app.command()
def serve(service: Annotated[str, typer.Argument(help="registry | pairing | monitoring | documents")],
          data_dir: DataDir = DEFAULT_DATA_DIR,
          port: Annotated[int | None, typer.Option(help="Порт API")] = None) -> None:
    """Запустить один сервис против NASTAVNIK_NATS_URL и NASTAVNIK_DATABASE_URL."""
    if service not in SERVICES:
        raise typer.BadParameter(f"неизвестный сервис {service}")
    settings = settings_for(data_dir)
    if port is not None:
        settings.api_port = port
    if not settings.nats_url:
        raise typer.BadParameter("задайте NASTAVNIK_NATS_URL")
    run_stoppable(serve_until_stopped(settings, runtimes_for(settings, (service,))))


@app.command()
def token(role: Annotated[Role, typer.Option()],
          scope: Annotated[str, typer.Option(help="Путь: регион[/муниципалитет[/организация]]")],
          user: Annotated[str, typer.Option()] = "demo",
          data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Выдать токен доступа (для API и curl)."""
    settings = settings_for(data_dir)
    typer.echo(issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)),
                           settings.signing_secret))


@app.command()
def events(data_dir: DataDir = DEFAULT_DATA_DIR,
           follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
           source: Annotated[list[str] | None, typer.Option(help="Сервис-источник")] = None) -> None:
    """Показать события шины (без персональных данных — их там нет)."""
    from shared.bus import connect
    from shared.contracts import SOURCES, Envelope, stream_subjects

    nats_url = os.environ.get("NASTAVNIK_NATS_URL") or read_run_info(data_dir)["nats"]

    async def run() -> None:
        nc = await connect(nats_url, "nastavnik-events", settings_for(data_dir), service="cli")
        js = nc.jetstream()
        # One ordered consumer per stream: a subject filter may not span streams.
        subs = [await js.subscribe(stream_subjects(s)[0], ordered_consumer=True)
                for s in (source or SOURCES)]
        try:
            for sub in subs if not follow else []:
                while True:
                    try:
                        msg = await sub.next_msg(timeout=1.0)
                    except TimeoutError:
                        break
                    typer.echo(describe(Envelope.from_bytes(msg.data)))
            while follow:
                done, _ = await asyncio.wait([asyncio.ensure_future(s.next_msg(timeout=None))
                                              for s in subs], return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    typer.echo(describe(Envelope.from_bytes(task.result().data)))
        finally:
            await nc.close()

    def describe(envelope: Envelope) -> str:
        return (f"{envelope.occurred_at:%Y-%m-%d %H:%M:%S} {envelope.type:<24} {envelope.org!s:<34} "
                f"{json.dumps(envelope.payload, ensure_ascii=False)}")

    asyncio.run(run())


@app.command()
def relay(service: Annotated[str, typer.Argument()], data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Только публиковать накопленные события сервиса (без API)."""
    from shared.bus import connect, ensure_streams
    from shared.logging import configure_logging
    from shared.relay import OutboxRelay

    settings = settings_for(data_dir)
    configure_logging(settings.log_level)
    store = runtimes_for(settings, (service,))[0].service.events  # type: ignore[attr-defined]

    async def run() -> None:
        from shared import signing

        signing.install(signing.load_keyring(settings))
        nc = await connect(settings.nats_url, f"{service}-relay", settings, service=service)
        js = nc.jetstream()
        await ensure_streams(js)
        await OutboxRelay(store, js, settings.relay_batch).run(asyncio.Event())

    asyncio.run(run())


@app.command()
def bench(scale: Annotated[str, typer.Option(help="small | municipality | region")] = "small",
          backend: Annotated[str, typer.Option(help="sqlite | postgres")] = "sqlite",
          json_file: Annotated[Path | None,
                               typer.Option("--json", help="Куда записать цифры")] = None) -> None:
    """Измерить систему: настоящие NATS, хранилища и сервисы в отдельных процессах."""
    from benchmarks.suite import SCALES, report, run

    if scale not in SCALES or backend not in ("sqlite", "postgres"):
        raise typer.BadParameter("масштаб small|municipality|region, хранилище sqlite|postgres")
    result = run(scale, backend, progress=typer.echo)
    typer.echo(report(result))
    if json_file:
        json_file.write_text(json.dumps(result, ensure_ascii=False, indent=2))


# service command groups (``nastavnik audit ...``, ``nastavnik roadmap ...``) are added here:
# app.add_typer(<typer.Typer>, name="<group>")
from services.monitoring.audit.cli import app as audit_app  # noqa: E402 - registration point

app.add_typer(audit_app, name="audit")
from services.documents.cli import roadmap_app  # noqa: E402 - registration point

app.add_typer(roadmap_app, name="roadmap")
from services.monitoring.rebuild import app as monitoring_app  # noqa: E402 - registration point

app.add_typer(monitoring_app, name="monitoring")
from services.demo import demo_command  # noqa: E402 - registration point

app.command("demo")(demo_command)
from shared.nats_auth import nats_auth_command  # noqa: E402 - registration point

app.command("nats-auth")(nats_auth_command)


if __name__ == "__main__":
    app()
