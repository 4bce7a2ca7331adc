"""``nastavnik audit ...``: verify the log, replay figures as of a date, follow a record's
trail, export for an auditor and check an export with nothing else at hand."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from services.monitoring.audit.export import check_export
from services.monitoring.audit.feeder import AuditLog, AuditReader
from services.monitoring.audit.heads import load_public_key, public_key_pem
from services.monitoring.audit.replay import parse_moment, replay_log
from services.monitoring.audit.service_check import check_services, summary
from services.monitoring.audit.trail import trail_of
from shared.auth import OrgPath
from shared.settings import Settings

app = typer.Typer(help="Журнал аудита: проверка, цифры на дату, история записи, выгрузка",
                  no_args_is_help=True)
DataDir = Annotated[Path, typer.Option("--data-dir", help="Папка данных")]
DEFAULT_DATA_DIR = Path(os.environ.get("NASTAVNIK_DATA_DIR", "var"))
AsJson = Annotated[bool, typer.Option("--json", help="Вывести JSON")]
PublicKey = Annotated[Path | None, typer.Option(
    "--public-key", help="Опубликованный открытый ключ (PEM), которым подписаны вершины")]

#: The figures a replay prints as a table (the JSON has every figure of the dashboard).
TABLE_ROWS = (
    ("организаций", ("organisations", "total")), ("наставников", ("mentors", "total")),
    ("наставляемых", ("mentees", "total")), ("согласий дано", ("consents", "given")),
    ("согласий отозвано", ("consents", "withdrawn")), ("программ", ("programmes", "total")),
    ("пар сформировано", ("pairs", "formed")), ("пар работает", ("pairs", "by_status", "active")),
    ("пар завершило работу", ("pairs", "by_status", "completed")),
    ("пар распалось", ("pairs", "by_status", "dissolved")),
    ("встреч проведено", ("meetings", "held")), ("отзывов", ("feedback", "submitted")),
)


def open_log(data_dir: Path) -> Any:
    """The deployment's audit log; PostgreSQL when NASTAVNIK_DATABASE_URL says so."""
    return AuditLog.open(Settings(data_dir=data_dir))


def moment(text: str, name: str, end_of_day: bool = True) -> datetime:
    try:
        value = parse_moment(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: нужна дата ГГГГ-ММ-ДД или момент ГГГГ-ММ-ДДTЧЧ:ММ:СС",
                                 param_hint=name) from exc
    if len(text.strip()) == 10 and not end_of_day:
        value = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value


def open_reader(data_dir: Path, public_key: Path | None = None) -> Any:
    """The log for reading only: nothing is created (no schema, no key, no head)."""
    key = None
    if public_key is not None:
        try:
            key = load_public_key(public_key)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"{public_key}: нужен открытый ключ Ed25519 (PEM)",
                                     param_hint="--public-key") from exc
    return AuditReader.open(Settings(data_dir=data_dir), key)


@app.command()
def verify(data_dir: DataDir = DEFAULT_DATA_DIR, public_key: PublicKey = None,
           services: Annotated[bool, typer.Option(
               help="Сверить и хранилища событий сервисов")] = True) -> None:
    """Проверить весь журнал по цепочке хэшей и подписанным вершинам, и хранилища сервисов.

    Только читает: ни базы, ни ключа, ни вершины не создаёт. Вершины проверяются ключом
    --public-key (ключ аудитора), а без него — ключом развёртывания из папки данных."""
    audit = open_reader(data_dir, public_key)
    try:
        with audit.store.engine.connect() as conn:
            try:
                result = audit.store.verify(conn, audit.heads, audit.public_key,
                                            head_interval=Settings(data_dir=data_dir).audit_head_interval)
            except ValueError as exc:
                typer.echo(f"Нечем проверить подписи вершин ({audit.heads.path}): ключа "
                           "развёртывания нет, укажите опубликованный открытый ключ "
                           "--public-key ФАЙЛ", err=True)
                raise typer.Exit(2) from exc
        if not result.ok:
            typer.echo(str(result))
            for note in result.notes:
                typer.echo(f"  {note}")
            raise typer.Exit(1)
        reports = check_services(audit.store, Settings(data_dir=data_dir)) if services else []
    finally:
        audit.close()
    bad = next((r.problem for r in reports if r.problem is not None), None)
    if bad is not None:
        typer.echo(f"НАРУШЕНИЕ ЦЕЛОСТНОСТИ ХРАНИЛИЩА СЕРВИСА: {bad} (журнал аудита цел: "
                   f"записей {result.entries})")
        raise typer.Exit(1)
    typer.echo(f"{result}; {summary(reports)}" if services else str(result))


@app.command()
def replay(as_of: Annotated[str, typer.Option("--as-of", help="Дата (конец дня, UTC) или момент")],
           org: Annotated[str | None, typer.Option(help="Путь: регион/муниципалитет/организация или начало")]
           = None,
           as_json: AsJson = False, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Восстановить цифры мониторинга на дату только по журналу аудита."""
    when = moment(as_of, "--as-of")
    scope = None
    if org:
        try:
            scope = OrgPath.parse(org)
        except ValueError as exc:
            raise typer.BadParameter("регион[/муниципалитет[/организация]]",
                                     param_hint="--org") from exc
    audit = open_reader(data_dir)
    try:
        result = replay_log(audit.store, when, scope)
    finally:
        audit.close()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    typer.echo(f"Показатели на {when.isoformat()} по журналу аудита: событий {result['events']}")
    if not result["events"]:
        typer.echo("  (нет данных)")
    for name, dashboard in result["dashboards"].items():
        typer.echo(name)
        for label, path in TABLE_ROWS:
            value: Any = dashboard
            for key in path:
                value = value[key]
            typer.echo(f"  {label:<32} {value}")
        for share in dashboard["kpis"]:
            typer.echo(f"  {share['title']}: {share['percent']}")


@app.command()
def trail(record_id: Annotated[str, typer.Argument(help="Идентификатор человека, пары, программы, "
                                                        "документа")],
          as_json: AsJson = False, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Вся история одной записи: когда, что, кто (и в какой роли), по какой причине."""
    try:
        uid = UUID(record_id)
    except ValueError as exc:
        raise typer.BadParameter("нужен идентификатор вида UUID", param_hint="ID") from exc
    audit = open_reader(data_dir)
    try:
        with audit.store.engine.connect() as conn:
            items = trail_of(audit.store, conn, uid)
    finally:
        audit.close()
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, sort_keys=True))
        return
    if not items:
        typer.echo("В журнале нет событий этой записи")
        raise typer.Exit(1)
    for item in items:
        cause = item["causation_id"] or "—"
        typer.echo(f"#{item['position']} {item['occurred_at']} {item['type']} [{item['source']}] "
                   f"{item['org']} — {item['actor']['user']} ({item['actor']['role']}); "
                   f"корреляция {item['correlation_id']}, причина {cause}; "
                   f"{json.dumps(item['payload'], ensure_ascii=False, sort_keys=True)}")


@app.command()
def export(out: Annotated[Path, typer.Option("--out", help="Файл JSON Lines")],
           from_: Annotated[str | None, typer.Option("--from", help="С даты (включительно)")] = None,
           to: Annotated[str | None, typer.Option("--to", help="По дату (включительно)")] = None,
           data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Выгрузить записи с подписанной вершиной и доказательствами включения."""
    start = moment(from_, "--from", end_of_day=False) if from_ else datetime(1970, 1, 1, tzinfo=UTC)
    end = moment(to, "--to") + timedelta(microseconds=1) if to else datetime(9999, 12, 31, tzinfo=UTC)
    audit = open_log(data_dir)
    with audit.store.engine.connect() as conn:
        summary = audit.store.export(conn, out, start, end, audit.signer, audit.heads)
    typer.echo(f"Выгружено записей: {summary.entries} в {summary.path}; вершина: размер "
               f"{summary.head.size}, корень {summary.head.root_hex[:16]}…")


@app.command()
def check(file: Annotated[Path, typer.Argument(help="Файл выгрузки")],
          public_key: PublicKey = None) -> None:
    """Проверить выгрузку на любой машине: подписи, доказательства включения, полноту."""
    if not file.exists():
        raise typer.BadParameter(f"файл {file} не найден", param_hint="FILE")
    result = check_export(file, public_key.read_bytes() if public_key else None)
    typer.echo(str(result))
    for note in result.notes:
        typer.echo(f"  {note}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("sign-head")
def sign_head(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Подписать текущую вершину журнала сейчас и дописать её в файл вершин."""
    head = open_log(data_dir).sign_head()
    typer.echo(head.to_json())


@app.command("public-key")
def public_key_command(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Открытый ключ развёртывания (PEM) — его публикуют для аудиторов."""
    typer.echo(public_key_pem(open_log(data_dir).signer.public_key), nl=False)
