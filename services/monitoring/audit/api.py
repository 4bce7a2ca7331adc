"""HTTP routes of the audit log and of the live figures (any reader).

Auditors only read: verify, trail, replay, public key and export write nothing, not even a
head (an export is proved against the latest head the service's own loop signed). Signing a
head on demand is the region's act (``POST /audit/heads``): the service's loop signs it, the
route only asks.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError, forbidden
from shared.web import CurrentActor

from .heads import SignedHead
from .records import AuditIntegrityError
from .replay import parse_moment, replay_log
from .service_check import check_services
from .trail import trail_of

if TYPE_CHECKING:
    from services.monitoring.runtime import MonitoringRuntime

AUDIT_ROLES = frozenset({Role.AUDITOR, Role.REGIONAL, Role.SYSTEM})
SIGNING_ROLES = frozenset({Role.REGIONAL, Role.SYSTEM})
#: An export waits for the loop's next head this long at most (one interval and a margin,
#: capped), so that it covers what was logged up to the request; then it takes the latest head.
HEAD_WAIT_MAX = 15.0
HEAD_WAIT_MARGIN = 2.0
#: How long an on-demand signing may take before the route gives up.
SIGN_TIMEOUT = 10.0
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


def monitoring(request: Request) -> MonitoringRuntime:
    return request.app.state.monitoring


# Any: the runtime module imports this one, so its class cannot be named at runtime here.
Monitoring = Annotated[Any, Depends(monitoring)]
router = APIRouter(prefix="/audit", tags=["audit"])


def require_auditor(actor: Actor, whole_log: bool = False, region: str | None = None) -> None:
    if actor.role not in AUDIT_ROLES:
        raise forbidden("Журнал аудита доступен только аудитору и региональному оператору")
    if whole_log and (actor.scope.municipality is not None
                      or (region is not None and actor.scope.region != region)):
        raise forbidden("Весь журнал проверяет и выгружает только аудитор уровня региона")


def require_signer(actor: Actor, region: str | None) -> None:
    if actor.role not in SIGNING_ROLES:
        raise forbidden("Подписать вершину журнала может только региональный оператор")
    if actor.scope.municipality is not None or (region is not None and actor.scope.region != region):
        raise forbidden("Вершину журнала подписывает только региональный оператор этого региона")


def parse_org(text: str | None, actor: Actor) -> OrgPath:
    if not text:
        return actor.scope
    try:
        org = OrgPath.parse(text)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации: регион[/муниципалитет"
                          "[/организация]]", 422) from exc
    actor.require_read(org)
    return org


def parse_time(text: str | None, default: datetime, field: str) -> datetime:
    if not text:
        return default
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise DomainError("INVALID_DATE", f"Неверная дата в поле {field}: нужна ГГГГ-ММ-ДД "
                          "или ГГГГ-ММ-ДДTЧЧ:ММ:СС", 422) from exc


@router.get("/verify")
def verify(actor: CurrentActor, runtime: Monitoring) -> dict[str, Any]:
    require_auditor(actor, whole_log=True, region=runtime.settings.region)
    audit = runtime.audit
    with audit.store.engine.connect() as conn:
        result = audit.store.verify(conn, audit.heads, audit.signer.public_key,
                                    head_interval=runtime.head_loop.interval)
    services = check_services(audit.store, runtime.settings) if result.ok else []
    bad = next((r.problem for r in services if r.problem is not None), None)
    return {
        "ok": result.ok and bad is None,
        "entries": result.entries,
        "root": result.root_hex,
        "chain": result.chain_hex,
        "signed_size": result.signed_size,
        "summary": str(result),
        "problem": None if result.problem is None else {
            "position": result.problem.position, "position_to": result.problem.position_to,
            "code": result.problem.code, "message": result.problem.message_ru},
        "services": [{"source": r.source, "compared": r.compared, "pending": r.pending,
                      "problem": None if r.problem is None else {
                          "position": r.problem.position, "code": r.problem.code,
                          "message": r.problem.message_ru}}
                     for r in services if r.present],
        "service_problem": None if bad is None else str(bad),
    }


@router.get("/trail/{record_id}")
def trail(record_id: str, actor: CurrentActor, runtime: Monitoring) -> list[dict[str, Any]]:
    require_auditor(actor)
    try:
        uid = UUID(record_id)
    except ValueError as exc:
        raise DomainError("INVALID_ID", "Неверный идентификатор записи", 422) from exc
    store = runtime.audit.store
    with store.engine.connect() as conn:
        return trail_of(store, conn, uid, visible=actor.can_read)


@router.get("/replay")
def replay(actor: CurrentActor, runtime: Monitoring,
           as_of: Annotated[str, Query(description="Дата или момент (UTC)")],
           org: str | None = None) -> dict[str, Any]:
    require_auditor(actor)
    scope = parse_org(org, actor)
    moment = parse_time(as_of, LATEST, "as_of")
    return replay_log(runtime.audit.store, moment, scope, runtime.fold_settings)


@router.get("/export")
async def export(actor: CurrentActor, runtime: Monitoring,
                 from_: Annotated[str | None, Query(alias="from")] = None,
                 to: str | None = None) -> FileResponse:
    require_auditor(actor, whole_log=True, region=runtime.settings.region)
    start, end = parse_time(from_, EARLIEST, "from"), parse_time(to, LATEST, "to")
    if end <= start:
        raise DomainError("INVALID_PERIOD", "Конец периода должен быть позже начала", 422)
    audit = runtime.audit
    head = await covering_head(runtime, await run_in_threadpool(audit.size))
    if head is None:
        raise DomainError("NO_SIGNED_HEAD", "Журнал ещё не подписан: выгрузку проверяют по "
                          "подписанной вершине, а первой ещё нет. Она будет подписана в течение "
                          f"{runtime.head_loop.interval:g} с после первой записи (или по запросу "
                          "регионального оператора: POST /audit/heads)", 409)
    folder = Path(tempfile.mkdtemp(prefix="nastavnik-export-"))
    out = folder / "audit-export.jsonl"

    def write() -> None:
        with audit.store.engine.connect() as conn:
            audit.store.export(conn, out, start, end, audit.signer, head=head)

    try:
        await run_in_threadpool(write)
    except AuditIntegrityError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise DomainError("AUDIT_INTEGRITY", f"Выгрузка невозможна: {exc}", 409) from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(out, media_type="application/x-ndjson", filename=out.name,
                        headers={"X-Audit-Head-Size": str(head.size)},
                        background=BackgroundTask(_remove, folder))


async def covering_head(runtime: Any, size: int) -> SignedHead | None:
    """The latest head the service's loop signed, once it covers ``size`` entries.

    The loop signs within one interval whenever the log grew, so the export waits for that
    (at most ``HEAD_WAIT_MAX``) rather than signing a head of its own; if it does not come,
    the latest head there is serves and the export covers the log up to it."""
    loop = runtime.head_loop
    deadline = time.monotonic() + min(loop.interval + HEAD_WAIT_MARGIN, HEAD_WAIT_MAX)
    while True:
        head: SignedHead | None = loop.last_head
        if head is not None and head.size >= size:
            return head
        if time.monotonic() >= deadline or not loop.running:
            break
        await asyncio.sleep(0.05)
    if head is None:  # the loop has signed nothing; another process may have
        head = await run_in_threadpool(runtime.audit.heads.latest)
    return head


@router.post("/heads", status_code=201)
async def sign_head(actor: CurrentActor, runtime: Monitoring) -> dict[str, Any]:
    """Sign a head now: the service's loop signs, appends it to the heads file and publishes
    it on NATS, as with its periodic heads. For the region's operator, not for auditors."""
    require_signer(actor, runtime.settings.region)
    head = await runtime.head_loop.sign_now(SIGN_TIMEOUT)
    if head is None:
        raise DomainError("HEAD_SIGNING_UNAVAILABLE", "Подписать вершину сейчас не удалось: "
                          "подпись вершин не запущена или хранилище недоступно; повторите позже",
                          503)
    return head.to_dict()


@router.get("/public-key")
def public_key(actor: CurrentActor, runtime: Monitoring) -> dict[str, Any]:
    require_auditor(actor)
    from .heads import public_key_pem

    latest = runtime.audit.heads.latest()
    return {"public_key_pem": public_key_pem(runtime.audit.signer.public_key),
            "latest_head": latest.to_dict() if latest else None}


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink(missing_ok=True)
    folder.rmdir()
