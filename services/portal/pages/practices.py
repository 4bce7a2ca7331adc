"""The bank of best practices (банк лучших практик): a school's curator puts a practice forward,
the level above (municipality or region) publishes or rejects it with a comment, and everyone
searches what is published and sees the winners of «Наставник года» (``nominations``).
The documents service keeps the bank and decides who may do what
(``/documents/practices…``); this page only offers each role its part.

URLs: ``/practices`` (search, the queue to review, the form to submit), ``/practices/{id}``,
``/practices/{id}/review``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Query, Request, Response

from services.portal import navigation
from services.portal.frame import Session, Signed, page_router, render, see_other
from services.portal.pages.nominations import winners
from services.portal.templating import templates

router = page_router()

#: The federal forms of mentorship, as a practice names its form (the region's own catalogue
#: has no API yet: a practice of another form is typed in the «Другая форма» field).
FORMS = ("Ученик – ученик", "Учитель – учитель", "Опытный педагог – молодой специалист",
         "Педагог – педагог (равный – равному)", "Студент – ученик", "Работодатель – ученик",
         "Учитель – ученик", "Ученик – учитель (обратное наставничество)", "Студент – студент",
         "Работодатель – студент")
PRACTICE_STATUSES = {"submitted": "на рассмотрении", "published": "опубликована",
                     "rejected": "отклонена"}
templates.env.globals.update(practice_statuses=PRACTICE_STATUSES, mentorship_forms=FORMS,
                             reviews_practices=navigation.reviews_practices,
                             submits_practices=navigation.submits_practices)


def split_tags(text: str) -> list[str]:
    """«адаптация, олимпиады;  профориентация» → three tags, lower case, each once."""
    tags = [t.strip().lower() for t in text.replace(";", ",").split(",")]
    return list(dict.fromkeys(t for t in tags if t))


async def org_names(s: Session) -> dict[str, str]:
    return {o["path"]: o["name"] for o in await s.api.get("/registry/organisations")}


def with_names(practices: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    # A published practice of another territory: its organisation is not the reader's to list.
    return [{**p, "organisation": names.get(p["path"], "организация другой территории")}
            for p in practices]


@router.get("/practices")
async def practices_page(request: Request, s: Signed,
                         q: Annotated[str | None, Query(max_length=200)] = None,
                         form: Annotated[str | None, Query(max_length=100)] = None,
                         tag: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    search = {k: v for k, v in (("q", q), ("form", form), ("tag", tag)) if v}
    own = navigation.reviews_practices(s.actor) or navigation.submits_practices(s.actor)
    published, submitted, rejected, names, best = await asyncio.gather(
        s.api.get("/documents/practices", **search),
        s.api.get("/documents/practices", status="submitted") if own else none(),
        s.api.get("/documents/practices", status="rejected") if own else none(),
        org_names(s), winners(s))
    return render(request, "practices.html", actor=s.actor, published=with_names(published, names),
                  winners=best,
                  submitted=with_names(submitted, names), rejected=with_names(rejected, names),
                  search=search, done=request.query_params.get("done"))


async def none() -> list[dict[str, Any]]:
    return []


@router.post("/practices")
async def submit_practice(request: Request, s: Signed,
                          practice_title: Annotated[str, Form(min_length=3, max_length=300)],
                          description: Annotated[str, Form(min_length=10, max_length=20000)],
                          form: Annotated[str, Form(max_length=100)] = "",
                          other_form: Annotated[str, Form(max_length=100)] = "",
                          tags: Annotated[str, Form(max_length=1000)] = "") -> Response:
    practice = await s.api.post("/documents/practices", json={
        "org": str(s.actor.scope), "title": practice_title, "description": description,
        "form": other_form.strip() or form, "tags": split_tags(tags)})
    return see_other(request, f"/practices/{practice['id']}?done=submitted")


@router.get("/practices/{practice_id}")
async def practice_page(request: Request, practice_id: UUID, s: Signed) -> Response:
    practice, names = await asyncio.gather(s.api.get(f"/documents/practices/{practice_id}"),
                                           org_names(s))
    return render(request, "practice.html", actor=s.actor, p=with_names([practice], names)[0],
                  done=request.query_params.get("done"))


@router.post("/practices/{practice_id}/review")
async def review_practice(request: Request, practice_id: UUID, s: Signed,
                          decision: Annotated[Literal["publish", "reject"], Form()],
                          comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    await s.api.post(f"/documents/practices/{practice_id}/review",
                     json={"decision": decision, "comment": comment.strip()})
    return see_other(request, f"/practices?done={quote(decision)}")
