"""«Школа наставников»: a municipality or the region publishes training materials per form of
mentorship; a mentor (signed in as a participant) marks a material completed; the curator of
the mentor's organisation confirms it, and the mentor then counts as trained in the indicator
«Наставники, прошедшие обучение». The documents service keeps the school and decides who may do
what (``/documents/training…``); this page offers each role its part.

URLs: ``/training``, ``/training/materials/{id}/completed``, ``/training/completions/{id}/confirm``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import Form, Request, Response

from services.portal import navigation
from services.portal.frame import Session, Signed, page_router, render, see_other
from services.portal.lookups import Names, names_of, own_organisation
from services.portal.pages.practices import FORMS
from services.portal.templating import templates

router = page_router()
templates.env.globals.update(publishes_training=navigation.publishes_training,
                             completes_training=navigation.completes_training,
                             confirms_training=navigation.confirms_training)
DONE = {"published": "Материал опубликован для наставников территории",
        "completed": "Отметка о прохождении отправлена куратору на подтверждение",
        "confirmed": "Прохождение обучения подтверждено"}


async def school_names(s: Session) -> Names:
    """The names of the curator's own mentors (the only ones a curator confirms)."""
    if not navigation.confirms_training(s.actor):
        return Names()
    return await names_of(s, (await own_organisation(s))["id"])


@router.get("/training")
async def training_page(request: Request, s: Signed) -> Response:
    materials, completions, names = await asyncio.gather(
        s.api.get("/documents/training/materials"), s.api.get("/documents/training/completions"),
        school_names(s))
    titles = {m["id"]: m["title"] for m in materials}
    mine = {c["material_id"]: c for c in completions}
    forms: dict[str, list[dict[str, Any]]] = {}
    for m in materials:
        forms.setdefault(m["form"], []).append({**m, "completion": mine.get(m["id"])})
    waiting = [{**c, "title": titles.get(c["material_id"], "материал"),
                "name": names.get(c["mentor_id"], "наставник")}
               for c in completions if not c["confirmed"]]
    return render(request, "training.html", actor=s.actor, forms=forms, waiting=waiting,
                  confirmed=sum(c["confirmed"] for c in completions), mentorship_forms=FORMS,
                  done=DONE.get(request.query_params.get("done") or ""))


@router.post("/training")
async def publish(request: Request, s: Signed,
                  form: Annotated[str, Form(min_length=2, max_length=100)],
                  material_title: Annotated[str, Form(min_length=3, max_length=300)],
                  description: Annotated[str, Form(min_length=10, max_length=20000)],
                  link: Annotated[str, Form(max_length=500)] = "") -> Response:
    await s.api.post("/documents/training/materials", json={
        "org": str(s.actor.scope), "form": form, "title": material_title.strip(),
        "description": description.strip(), "link": link.strip() or None})
    return see_other(request, "/training?done=published")


@router.post("/training/materials/{material_id}/completed")
async def complete(request: Request, material_id: UUID, s: Signed) -> Response:
    await s.api.post(f"/documents/training/materials/{material_id}/completed", json={})
    return see_other(request, "/training?done=completed")


@router.post("/training/completions/{completion_id}/confirm")
async def confirm(request: Request, completion_id: UUID, s: Signed) -> Response:
    await s.api.post(f"/documents/training/completions/{completion_id}/confirm", json={})
    return see_other(request, "/training?done=confirmed")
