"""Which monitoring questionnaires a pair's members (and the curator) are to answer, and which of
them are answered — worked out from the pair and the questionnaires, with the answers as the
monitoring service reports them (``/monitoring/surveys/answered``). No pages here: both the
pair page and the surveys pages use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

from services.portal.client import ApiClient

Stage = Literal["quality", "growth_entry", "growth_exit"]
STAGE_TITLES: dict[str, str] = {"quality": "оценка качества программы",
                                "growth_entry": "рост: вход в программу",
                                "growth_exit": "рост: выход из программы"}
RESPONDENT_TITLES: dict[str, str] = {"mentor": "наставник", "mentee": "наставляемый",
                                     "curator": "куратор"}
#: Pairs whose members are surveyed: a dissolved pair is not asked how its work went.
SURVEYED = ("active", "completed")
ANOTHER = "участник другой организации"


@dataclass
class Expected:
    """One questionnaire one respondent is to answer, and whether they have."""

    questionnaire: dict[str, Any]
    stage: str
    role: str
    respondent_id: str
    name: str
    pair_id: str | None
    done: bool = False
    #: Due now, or only once the pair's work is over (exit and quality questionnaires).
    due: bool = True

    @property
    def url(self) -> str:
        code = quote(self.questionnaire["code"])
        if self.pair_id is None:
            return f"/surveys/{code}?{urlencode({'respondent': self.respondent_id})}"
        query = urlencode({"stage": self.stage, "respondent": self.respondent_id})
        return f"/pairs/{self.pair_id}/surveys/{code}?{query}"

    @property
    def answered_item(self) -> str:
        """How ``/surveys/answered`` is asked: quality per pair, growth per participant."""
        if self.pair_id and self.stage == "quality":
            return f"{self.respondent_id}:{self.pair_id}"
        return self.respondent_id


def serving(questionnaires: list[dict[str, Any]], kind: str, role: str,
            form: str | None) -> dict[str, Any] | None:
    """The questionnaire of a kind for a respondent role and form of mentorship, as monitoring
    accepts it: one naming the form, or one for every form («*»)."""
    return next((q for q in questionnaires if q["stage"] == kind and q["respondent_role"] == role
                 and ("*" in q["forms"] or form in q["forms"])), None)


def expected_of_pair(pair: dict[str, Any], questionnaires: list[dict[str, Any]],
                     names: dict[str, str]) -> list[Expected]:
    """Growth on entry at once, growth on exit and quality once the pair's work is over."""
    finished = pair["status"] != "active"
    found: list[Expected] = []
    members = [("mentor", pair["mentor_id"])] + [("mentee", m) for m in pair["mentee_ids"]]
    for role, person in members:
        name = names.get(person, ANOTHER)
        growth = serving(questionnaires, "growth", role, pair["form"])
        if growth is not None:
            found.append(Expected(growth, "growth_entry", role, person, name, pair["id"]))
            found.append(Expected(growth, "growth_exit", role, person, name, pair["id"],
                                  due=finished))
        quality = serving(questionnaires, "quality", role, pair["form"])
        if quality is not None:
            found.append(Expected(quality, "quality", role, person, name, pair["id"], due=finished))
    return found


def curator_expected(questionnaires: list[dict[str, Any]], organisation_id: str) -> Expected | None:
    """The curator's own questionnaire, answered for the organisation (its registry id is the
    respondent: the curator is not a registry person, and one answer per organisation counts)."""
    found = serving(questionnaires, "quality", "curator", None)
    if found is None:
        return None
    return Expected(found, "quality", "curator", organisation_id, "куратор программы", None)


def mark_done(expected: list[Expected], answered: list[dict[str, Any]]) -> None:
    done = {(a["respondent_id"], a["survey"], a["stage"], a["pair_id"]) for a in answered}
    for e in expected:
        pair = e.pair_id if e.stage == "quality" else None
        e.done = (e.respondent_id, e.questionnaire["code"], e.stage, pair) in done


async def load_answered(api: ApiClient, path: str, expected: list[Expected]) -> None:
    """Mark each expected questionnaire done as monitoring reports it for organisation ``path``."""
    items = list(dict.fromkeys(e.answered_item for e in expected))
    mark_done(expected, await api.get_list_in_chunks("/monitoring/surveys/answered", "respondent",
                                                     items, org=path))


async def pair_surveys(api: ApiClient, pair: dict[str, Any], path: str,
                       names: dict[str, str]) -> list[Expected]:
    """The pair page's list: each member's questionnaires and whether they are answered."""
    if pair["status"] not in SURVEYED:
        return []
    expected = expected_of_pair(pair, await api.get("/monitoring/questionnaires"), names)
    await load_answered(api, path, expected)
    return expected
