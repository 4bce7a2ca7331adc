"""``nastavnik audit ...``: verify the log, replay figures as of a date, follow a record's
trail, export for an auditor and check an export with nothing else at hand."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from services.monitoring.audit.chain import leaf_hash
from services.monitoring.audit.checked import check_up_to, last_position_before
from services.monitoring.audit.checkpoint import NoteError, NoteVerifier
from services.monitoring.audit.export_check import Anchor, check_export
from services.monitoring.audit.feeder import AuditLog, AuditReader, init_key
from services.monitoring.audit.heads import (
    AuditKeyMissing,
    SignedHead,
    load_public_key,
    public_key_pem,
    verify_head,
)
from services.monitoring.audit.history import BASES, Basis
from services.monitoring.audit.proofs import consistency_proof, tree_of
from services.monitoring.audit.records import AuditIntegrityError
from services.monitoring.audit.replay import parse_moment, replay_log
from services.monitoring.audit.service_check import DIVERGED, check_services, summary
from services.monitoring.audit.trail import trail_of
from services.monitoring.audit.verify import find_fork
from services.monitoring.audit.witness import load_checkpoints
from shared.auth import OrgPath
from shared.settings import Settings

app = typer.Typer(help="Журнал аудита: проверка, цифры на дату, история записи, выгрузка",
                  no_args_is_help=True)
DataDir = Annotated[Path, typer.Option("--data-dir", help="Папка данных")]
DEFAULT_DATA_DIR = Path(os.environ.get("NASTAVNIK_DATA_DIR", "var"))
AsJson = Annotated[bool, typer.Option("--json", help="Вывести JSON")]
PublicKey = Annotated[Path | None, typer.Option(
    "--public-key", help="Опубликованный открытый ключ (PEM), которым подписаны вершины")]

WitnessKey = Annotated[list[str] | None, typer.Option(
    "--witness-key", help="Ключ проверки свидетеля (строка имя+хэш+ключ или файл с ней)")]
Checkpoints = Annotated[Path | None, typer.Option(
    "--checkpoints", help="Заверенные свидетелем контрольные точки (его cosigned.jsonl)")]


def witness_verifiers(keys: list[str] | None) -> list[NoteVerifier]:
    out = []
    for text in keys or []:
        path = Path(text)
        try:
            out.append(NoteVerifier.from_vkey(path.read_text() if path.exists() else text))
        except NoteError as exc:
            raise typer.BadParameter(str(exc), param_hint="--witness-key") from exc
    return out


def witness_anchors(checkpoints: Path | None, keys: list[str] | None) -> list[Anchor]:
    verifiers = witness_verifiers(keys)
    if checkpoints is None:
        return []
    if not verifiers:
        raise typer.BadParameter("контрольные точки проверяются ключом свидетеля: укажите "
                                 "--witness-key", param_hint="--checkpoints")
    try:
        notes = load_checkpoints(checkpoints, verifiers)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--checkpoints") from exc
    return [Anchor(n.checkpoint.size, n.checkpoint.root, "контрольная точка свидетеля")
            for n in notes]

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
    """The deployment's audit log; PostgreSQL when NASTAVNIK_DATABASE_URL says so.

    Refuses (exit 2, a Russian message) when there is no signing key: only ``init-key``
    creates one."""
    try:
        return AuditLog.open(Settings(data_dir=data_dir))
    except AuditKeyMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


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
               help="Сверить и хранилища событий сервисов")] = True,
           checkpoints: Checkpoints = None, witness_key: WitnessKey = None) -> None:
    """Проверить весь журнал по цепочке хэшей и подписанным вершинам, и хранилища сервисов.

    Только читает: ни базы, ни ключа, ни вершины не создаёт. Вершины проверяются ключом
    --public-key (ключ аудитора), а без него — ключом развёртывания из папки данных."""
    anchors = witness_anchors(checkpoints, witness_key)
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
            if anchors:
                # The witness's checkpoints come before the log's own heads: a log rewritten and
                # re-signed with its own key passes those, and is a fork against these.
                fork = find_fork(((pos, leaf_hash(data)) for pos, data, _, _ in
                                  audit.store._verify_rows(conn, 20000)),
                                 [(a.size, a.root) for a in anchors])
                if fork is not None:
                    result = dataclasses.replace(result, ok=False, problem=fork, notes=(
                        *result.notes, "проверено по контрольным точкам свидетеля"))
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
        witnessed = max((a.size for a in anchors), default=0)
        bad = bad.unproven(witnessed)
        if bad.code == DIVERGED:
            typer.echo(f"РАСХОЖДЕНИЕ ЖУРНАЛА АУДИТА И ХРАНИЛИЩА СЕРВИСА: {bad}")
        else:
            typer.echo(f"НАРУШЕНИЕ ЦЕЛОСТНОСТИ ХРАНИЛИЩА СЕРВИСА: {bad} (журнал аудита "
                       f"подтверждён свидетелем до записи {witnessed})")
        raise typer.Exit(1)
    typer.echo(f"{result}; {summary(reports)}" if services else str(result))


@app.command()
def replay(as_of: Annotated[str, typer.Option("--as-of", help="Дата (конец дня, UTC) или момент")],
           org: Annotated[str | None, typer.Option(help="Путь: регион/муниципалитет/организация или начало")]
           = None,
           as_json: AsJson = False, data_dir: DataDir = DEFAULT_DATA_DIR,
           public_key: PublicKey = None, checkpoints: Checkpoints = None,
           witness_key: WitnessKey = None,
           basis: Annotated[str, typer.Option(help=(
               "shown — как цифры были показаны на дату (записи, внесённые до неё); known — "
               "какими они были на дату по тому, что известно сегодня (по датам событий)"))]
           = "shown") -> None:
    """Восстановить цифры мониторинга на дату только по журналу аудита.

    Сначала журнал проверяется до последней записи, которую читает восстановление; если
    проверить нечем или он не цел, так и говорится (и код выхода 1)."""
    when = moment(as_of, "--as-of")
    if basis not in BASES:
        raise typer.BadParameter("shown или known", param_hint="--basis")
    chosen: Basis = basis  # type: ignore[assignment]
    scope = None
    if org:
        try:
            scope = OrgPath.parse(org)
        except ValueError as exc:
            raise typer.BadParameter("регион[/муниципалитет[/организация]]",
                                     param_hint="--org") from exc
    anchors = witness_anchors(checkpoints, witness_key)
    audit = open_reader(data_dir, public_key)
    try:
        with audit.store.engine.connect() as conn:
            checked = _checked_up_to(
                audit, conn, last_position_before(audit.store, conn, when, chosen), anchors)
        result = replay_log(audit.store, when, scope, basis=chosen)
    finally:
        audit.close()
    _say_checked(checked, as_json, result)
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
    if not checked.ok:
        typer.echo(checked.message_ru)
        raise typer.Exit(1)


def _checked_up_to(audit: Any, conn: Any, position: int, anchors: Any) -> Any:
    """The log checked up to ``position`` (chain, signed heads, the witnesses' checkpoints)."""
    return check_up_to(audit.store, conn, position, audit.heads, audit.public_key,
                       [(a.size, a.root) for a in anchors])


def _say_checked(checked: Any, as_json: bool, result: Any) -> None:
    """The verdict on the part shown comes first; as JSON the result then ends the command
    (exit 1 when that part is not verified), as text the caller prints it."""
    typer.echo(checked.message_ru, err=as_json)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        raise typer.Exit(0 if checked.ok else 1)


@app.command()
def trail(record_id: Annotated[str, typer.Argument(help="Идентификатор человека, пары, программы, "
                                                        "документа")],
          as_json: AsJson = False, data_dir: DataDir = DEFAULT_DATA_DIR,
          public_key: PublicKey = None, checkpoints: Checkpoints = None,
          witness_key: WitnessKey = None) -> None:
    """Вся история одной записи: когда, что, кто (и в какой роли), по какой причине.

    Сначала журнал проверяется до последней показанной записи; если проверить нечем или он
    не цел, так и говорится (и код выхода 1)."""
    try:
        uid = UUID(record_id)
    except ValueError as exc:
        raise typer.BadParameter("нужен идентификатор вида UUID", param_hint="ID") from exc
    anchors = witness_anchors(checkpoints, witness_key)
    audit = open_reader(data_dir, public_key)
    try:
        with audit.store.engine.connect() as conn:
            items = trail_of(audit.store, conn, uid)
            checked = _checked_up_to(audit, conn, max((i["position"] for i in items), default=0),
                                     anchors)
    finally:
        audit.close()
    _say_checked(checked, as_json, items)
    if not items:
        typer.echo("В журнале нет событий этой записи")
        raise typer.Exit(1)
    for item in items:
        cause = item["causation_id"] or "—"
        typer.echo(f"#{item['position']} {item['occurred_at']} {item['type']} [{item['source']}] "
                   f"{item['org']} — {item['actor']['user']} ({item['actor']['role']}); "
                   f"корреляция {item['correlation_id']}, причина {cause}; "
                   f"{json.dumps(item['payload'], ensure_ascii=False, sort_keys=True)}")
    if not checked.ok:
        typer.echo(checked.message_ru)
        raise typer.Exit(1)


@app.command()
def export(out: Annotated[Path, typer.Option("--out", help="Файл JSON Lines")],
           from_: Annotated[str | None, typer.Option("--from", help="С даты (включительно)")] = None,
           to: Annotated[str | None, typer.Option("--to", help="По дату (включительно)")] = None,
           data_dir: DataDir = DEFAULT_DATA_DIR,
           proof_from: Annotated[list[int] | None, typer.Option(
               "--proof-from", help="Добавить доказательство согласованности с этого размера "
               "(вашей прежней вершины или контрольной точки свидетеля)")] = None) -> None:
    """Выгрузить записи с подписанной вершиной и доказательствами включения."""
    start = moment(from_, "--from", end_of_day=False) if from_ else datetime(1970, 1, 1, tzinfo=UTC)
    end = moment(to, "--to") + timedelta(microseconds=1) if to else datetime(9999, 12, 31, tzinfo=UTC)
    audit = open_log(data_dir)
    with audit.store.engine.connect() as conn:
        summary = audit.store.export(conn, out, start, end, audit.signer, audit.heads,
                                     proof_from=proof_from or ())
    typer.echo(f"Выгружено записей: {summary.entries} в {summary.path}; вершина: размер "
               f"{summary.head.size}, корень {summary.head.root_hex[:16]}…")


@app.command()
def check(file: Annotated[Path, typer.Argument(help="Файл выгрузки")],
          public_key: PublicKey = None,
          prev_head: Annotated[Path | None, typer.Option(
              "--prev-head", help="Вершина, проверенная вами раньше (файл --save-head)")] = None,
          save_head: Annotated[Path | None, typer.Option(
              "--save-head", help="Сохранить проверенную вершину для следующей проверки")] = None,
          checkpoints: Checkpoints = None, witness_key: WitnessKey = None) -> None:
    """Проверить выгрузку на любой машине: подписи, доказательства включения, полноту, и что
    она продолжает вершину, проверенную вами раньше, и контрольные точки свидетеля."""
    if not file.exists():
        raise typer.BadParameter(f"файл {file} не найден", param_hint="FILE")
    if public_key is None and not (checkpoints and witness_key):
        typer.echo("Проверка без своего ключа ничего не доказывает: ключ внутри файла мог "
                   "положить и подделавший его. Укажите опубликованный открытый ключ журнала "
                   "--public-key ФАЙЛ (и/или --checkpoints с --witness-key свидетеля).", err=True)
        raise typer.Exit(2)
    anchors = witness_anchors(checkpoints, witness_key)
    key = public_key.read_bytes() if public_key else None
    if prev_head is not None:
        try:
            saved = SignedHead.from_dict(json.loads(prev_head.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{prev_head}: нужна вершина, сохранённая --save-head",
                                     param_hint="--prev-head") from exc
        if key is None or not verify_head(saved, load_public_key(key)):
            typer.echo(f"Сохранённая вершина {prev_head} не подписана ключом журнала", err=True)
            raise typer.Exit(1)
        anchors.append(Anchor(saved.size, bytes.fromhex(saved.root_hex),
                              "вершина, проверенная вами раньше"))
    result = check_export(file, key, anchors=anchors)
    if key is None and result.ok:
        # The witnesses vouch for the tree; the file's own key only for its lines.
        result = dataclasses.replace(result, notes=tuple(
            n for n in result.notes if "из самого файла" not in n))
    typer.echo(str(result))
    for note in result.notes:
        typer.echo(f"  {note}")
    if not result.ok:
        raise typer.Exit(1)
    if save_head is not None:
        head = json.loads(file.read_text(encoding="utf-8").split("\n", 2)[1])
        head.pop("type", None)
        pending = save_head.with_name(save_head.name + ".part")
        pending.write_text(json.dumps(head, ensure_ascii=False, sort_keys=True) + "\n")
        pending.replace(save_head)
        typer.echo(f"Проверенная вершина (размер {head['size']}) сохранена в {save_head}")


@app.command()
def proof(from_size: Annotated[int, typer.Option("--from", help="Меньший размер")],
          to_size: Annotated[int | None, typer.Option("--to", help="Больший размер (по "
                                                      "умолчанию — весь журнал)")] = None,
          data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Доказательство согласованности журнала между двумя размерами (RFC 6962), JSON."""
    audit = open_reader(data_dir)
    try:
        with audit.store.engine.connect() as conn:
            size = audit.store.head(conn).size if to_size is None else to_size
            try:
                path = consistency_proof(audit.store, conn, from_size, size)
                root_old = tree_of(audit.store, conn, from_size).root() if from_size else None
                root_new = tree_of(audit.store, conn, size).root()
            except (ValueError, AuditIntegrityError) as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from exc
    finally:
        audit.close()
    typer.echo(json.dumps({"from": from_size, "to": size, "proof": [p.hex() for p in path],
                           "from_root": root_old.hex() if root_old else None,
                           "to_root": root_new.hex()}, ensure_ascii=False))


@app.command("sign-head")
def sign_head(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Подписать текущую вершину журнала сейчас и дописать её в файл вершин."""
    head = open_log(data_dir).sign_head()
    typer.echo(head.to_json())


@app.command("public-key")
def public_key_command(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Открытый ключ развёртывания (PEM) — его публикуют для аудиторов."""
    typer.echo(public_key_pem(open_log(data_dir).signer.public_key), nl=False)


@app.command("init-key")
def init_key_command(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Создать ключ подписи журнала (один раз, явно); существующий ключ не заменяется."""
    try:
        path, _ = init_key(Settings(data_dir=data_dir))
    except FileExistsError as exc:
        typer.echo(f"Ключ подписи журнала уже есть: {exc.filename}; он не заменяется "
                   "(замена ключа — отдельная процедура с публикацией нового открытого ключа)",
                   err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Создан ключ подписи журнала аудита: {path}")
    typer.echo("Опубликуйте открытый ключ для аудиторов: nastavnik audit public-key")


from services.monitoring.audit.witness_cli import app as witness_app  # noqa: E402

app.add_typer(witness_app, name="witness")
