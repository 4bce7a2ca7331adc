"""Diagnostics every service exposes: Prometheus metrics and the API's own documents
(``/openapi.json``, ``/docs``, ``/redoc``), none of them open to anonymous callers.

They tell an attacker which routes, versions and volumes there are (issue 18, Low), so each
needs a bearer: the configured ``NASTAVNIK_DIAGNOSTICS_TOKEN`` (what Prometheus sends, as
``authorization: {credentials: …}`` in its scrape config) or the access token of a user whom
``shared.auth.require_diagnostics_reader`` admits. The gateway hides ``/metrics`` from the
internet anyway (deploy/kubernetes/gateway.conf).
"""

from __future__ import annotations

import copy
import hmac
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shared.auth import require_diagnostics_reader
from shared.web import current_actor


async def diagnostics_reader(request: Request,
                             authorization: Annotated[str | None, Header()] = None) -> None:
    configured: str = request.app.state.settings.diagnostics_token
    if configured and authorization and authorization.lower().startswith("bearer ") and \
            hmac.compare_digest(authorization[7:].strip().encode(), configured.encode()):
        return
    # A refusal is logged and counted as a security event by shared.web's error handler.
    require_diagnostics_reader(await current_actor(request, authorization))


router = APIRouter(tags=["health"], dependencies=[Depends(diagnostics_reader)],
                   include_in_schema=False)


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The whole API's document, the operations of services run in processes apart included:
    each is asked for its own with the caller's credentials."""
    app: FastAPI = request.app
    document = copy.deepcopy(app.openapi())
    for url in getattr(app.state, "elsewhere", {}).values():
        answer = httpx.get(f"{url}/openapi.json", timeout=10.0,
                           headers={"Authorization": request.headers.get("authorization", "")})
        answer.raise_for_status()
        theirs = answer.json()
        document["paths"].update(theirs.get("paths", {}))
        for kind, items in theirs.get("components", {}).items():
            document.setdefault("components", {}).setdefault(kind, {}).update(items)
    return JSONResponse(document)


@router.get("/docs")
def docs() -> Response:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Наставник — API")


@router.get("/redoc")
def redoc() -> Response:
    return get_redoc_html(openapi_url="/openapi.json", title="Наставник — API")
