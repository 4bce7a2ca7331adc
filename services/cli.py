"""The ``nastavnik`` command: parses its arguments and hands them to the bootstrap.

Commands of the services' own (``audit``, ``roadmap``, ``monitoring``, ``demo``) are registered
below; tools that are not part of the product (``bench``, ``nats-auth``) register themselves
through the ``nastavnik.commands`` entry point group, so the product never imports them.
"""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from services import bootstrap
from services.demo import DEMO_SEED, demo_command, plan_region, run_demo
from services.documents.cli import roadmap_app
from services.monitoring.audit.cli import app as audit_app
from services.monitoring.rebuild import app as monitoring_app
from services.portal.auth import DEMO_PASSWORD, DEMO_TOTP_SECRETS, demo_accounts
from shared import signing
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.bus import connect, ensure_streams
from shared.contracts import SOURCES, Envelope, stream_subjects
from shared.logging import configure_logging
from shared.relay import OutboxRelay

app = typer.Typer(help="Наставник — региональная система наставничества", no_args_is_help=True)
DataDir = Annotated[Path, typer.Option("--data-dir", envvar="NASTAVNIK_DATA_DIR", help="Папка данных")]
DEFAULT_DATA_DIR = Path("var")
#: Where tools outside the product (benchmarks, deployment tooling) offer their commands.
COMMAND_PLUGINS = "nastavnik.commands"


def run_info(data_dir: Path) -> dict[str, str]:
    try:
        return bootstrap.read_run_info(data_dir)
    except bootstrap.NotRunning as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def up(demo: Annotated[bool, typer.Option("--demo", help="Загрузить демонстрационный регион")] = False,
       data_dir: DataDir = DEFAULT_DATA_DIR,
       port: Annotated[int, typer.Option(help="Порт API (0 — любой свободный)")] = 8000) -> None:
    """Запустить всю систему одной командой: NATS, все сервисы, API."""
    settings = bootstrap.embedded_settings(data_dir, api_port=port)

    def announce(api: str, nats_url: str) -> None:
        if demo:
            run_demo(api, settings, plan_region(DEMO_SEED, region_code=settings.region), DEMO_SEED,
                     activity=True, echo=typer.echo, show_progress=False)
        # Printed last, after the demo loaded, so that the addresses do not scroll away.
        typer.echo(f"API:  {api}  (документация: {api}/docs)")
        typer.echo(f"NATS: {nats_url}")
        if demo:
            typer.echo(f"Портал: {api}/login — демо-входы по ролям (пароль {DEMO_PASSWORD}):")
            for account in demo_accounts(settings.region):
                secret = DEMO_TOTP_SECRETS.get(account.login)
                second = f"  код: из приложения, секрет {secret}" if secret else ""
                typer.echo(f"  {account.role.value:<10} {account.login:<22} {account.scope}{second}")
        typer.echo("Остановить: Ctrl+C")

    bootstrap.run_embedded(settings, announce)
    typer.echo("Остановлено")


@app.command()
def serve(service: Annotated[str, typer.Argument(help="registry | pairing | monitoring | documents")],
          data_dir: DataDir = DEFAULT_DATA_DIR,
          port: Annotated[int | None, typer.Option(help="Порт API")] = None) -> None:
    """Запустить один сервис против NASTAVNIK_NATS_URL и NASTAVNIK_DATABASE_URL."""
    if service not in bootstrap.SERVICES:
        raise typer.BadParameter(f"неизвестный сервис {service}")
    settings = bootstrap.settings_for(data_dir)
    if port is not None:
        settings.api_port = port
    if not settings.nats_url:
        raise typer.BadParameter("задайте NASTAVNIK_NATS_URL")
    bootstrap.serve_one(settings, service)


@app.command()
def token(role: Annotated[Role, typer.Option()],
          scope: Annotated[str, typer.Option(help="Путь: регион/муниципалитет/организация или начало")],
          user: Annotated[str, typer.Option()] = "demo",
          data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Выдать токен доступа (для API и curl)."""
    settings = bootstrap.settings_for(data_dir)
    typer.echo(issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)),
                           settings.signing_secret))


@app.command()
def events(data_dir: DataDir = DEFAULT_DATA_DIR,
           follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
           source: Annotated[list[str] | None, typer.Option(help="Сервис-источник")] = None) -> None:
    """Показать события шины (без персональных данных — их там нет)."""
    nats_url = bootstrap.settings_for(data_dir).nats_url or run_info(data_dir)["nats"]

    async def run() -> None:
        nc = await connect(nats_url, "nastavnik-events", bootstrap.settings_for(data_dir), service="cli")
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
    settings = bootstrap.settings_for(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    store = bootstrap.runtimes_for(settings, (service,))[0].service.events  # type: ignore[attr-defined]

    async def run() -> None:
        signing.install(signing.load_keyring(settings))
        nc = await connect(settings.nats_url, f"{service}-relay", settings, service=service)
        js = nc.jetstream()
        await ensure_streams(js, owner=service)
        await OutboxRelay(store, js, settings.relay_batch).run(asyncio.Event())

    asyncio.run(run())


app.add_typer(audit_app, name="audit")
app.add_typer(roadmap_app, name="roadmap")
app.add_typer(monitoring_app, name="monitoring")
app.command("demo")(demo_command)


def add_plugins(cli: typer.Typer) -> None:
    """Commands of installed tools: a ``typer.Typer`` becomes a group, a function a command."""
    for entry in entry_points(group=COMMAND_PLUGINS):
        try:
            command = entry.load()
        except ModuleNotFoundError as exc:
            # Installed without that tool (the service image has no benchmarks): not offered.
            if (exc.name or "").split(".")[0] == entry.module.split(".")[0]:
                continue
            raise
        if isinstance(command, typer.Typer):
            cli.add_typer(command, name=entry.name)
        else:
            cli.command(entry.name)(command)


add_plugins(app)


if __name__ == "__main__":
    app()
