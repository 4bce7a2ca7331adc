"""The region's catalogue of forms of mentorship: which of the methodology's forms the region
offers and its own description of each. The registry keeps it and decides who may change it
(``PUT /registry/forms``: the region's operator); everyone else reads it here.

URLs: ``/forms``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from services.portal import navigation
from services.portal.client import ApiError
from services.portal.frame import Session, Signed, page_router, render, see_other

router = page_router()


def page(request: Request, s: Session, catalogue: dict[str, Any], status: int = 200,
         general: list[str] | None = None) -> Response:
    return render(request, "forms.html", status=status, actor=s.actor, forms=catalogue["forms"],
                  configured=catalogue["configured"], editable=navigation.configures_calendar(s.actor),
                  general=general or [], saved=request.query_params.get("saved") == "1")


@router.get("/forms")
async def forms_page(request: Request, s: Signed) -> Response:
    return page(request, s, await s.api.get("/registry/forms"))


@router.post("/forms")
async def configure(request: Request, s: Signed) -> Response:
    form = await request.form()
    catalogue = await s.api.get("/registry/forms")
    codes = [f["code"] for f in catalogue["forms"]]
    enabled = [code for code in codes if form.get(f"enabled-{code}") == "1"]
    descriptions = {code: str(form.get(f"description-{code}") or "")[:1000] for code in codes}
    try:
        await s.api.put("/registry/forms", json={"enabled": enabled, "descriptions": descriptions})
    except ApiError as exc:
        if exc.status != 422:
            raise
        # The operator's choices stay on the page so nothing typed is lost.
        for f in catalogue["forms"]:
            f.update(enabled=f["code"] in enabled, description=descriptions[f["code"]])
        return page(request, s, catalogue, 422, [exc.message])
    return see_other(request, "/forms?saved=1")
