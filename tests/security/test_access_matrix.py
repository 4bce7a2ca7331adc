"""Every route of the assembled app × every role × own / other organisation: exact allow or deny.

The expectation of each case is derived from a small policy per route (``POLICIES``), never
written out case by case; a route without a policy fails the test, so a new route must say who
may call it. A denial must reveal nothing: no names, no ids of the records asked about, no counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pyotp
import pytest
from fastapi.routing import APIRoute

from services.registry.accounts import DEMO_PASSWORD
from shared.auth import Role
from shared.localtime import local_today
from shared.mentorship_forms import METHODOLOGY_FORMS
from tests.security.world import ISSUER, MUNICIPALITY, REGION, SCHOOL, SURNAMES, World

ROLES = ("curator", "municipal", "regional", "auditor", "participant", "anonymous")
OWN_SCOPE = {"curator": SCHOOL, "municipal": MUNICIPALITY, "regional": REGION, "auditor": REGION,
             "participant": SCHOOL}
OTHER_SCOPE = {"curator": "demo/m2/school-c", "municipal": "demo/m2", "regional": "north",
               "auditor": "north", "participant": "demo/m2/school-c"}

OK, ALLOWED, UNAUTH, FORBID, HIDDEN = "2xx", "allowed", "401", "403", "404"

# --- policies: role, own? -> expectation ---------------------------------------------------------

STAFF = {"curator", "municipal", "regional"}
READERS = STAFF | {"auditor"}


def public(role: str, own: bool) -> str:
    return OK


def any_user(role: str, own: bool) -> str:
    return OK


def read_org(role: str, own: bool) -> str:
    """Organisation-level data: staff and auditors of the organisation or above."""
    return OK if own and role in READERS else FORBID


def read_record(role: str, own: bool) -> str:
    """A person, pair, document or roadmap: outside one's reach it does not exist."""
    return OK if own and role in READERS else HIDDEN


def list_in_scope(role: str, own: bool) -> str:
    """A list of the actor's own scope: anyone but a participant; others just see none of ours."""
    return FORBID if role == "participant" else OK


def write_org(role: str, own: bool) -> str:
    return OK if own and role in STAFF else FORBID


def write_record(role: str, own: bool) -> str:
    """Change a record: staff of its organisation; an auditor may see it (403), others may not (404)."""
    if own and role in STAFF:
        return OK
    return FORBID if own and role == "auditor" else HIDDEN


def invite(role: str, own: bool) -> str:
    """An invitation to sign in: the curator of the person's organisation; officials above it see
    the person (403); anyone else, a participant too, is told of no such person."""
    if own and role == "curator":
        return OK
    return FORBID if own and role in READERS else HIDDEN


def write_above_school(role: str, own: bool) -> str:
    """Acts on a municipality (creating its schools): the municipality or the region."""
    return OK if own and role in {"municipal", "regional"} else FORBID


def regional_only(role: str, own: bool) -> str:
    return OK if own and role == "regional" else FORBID


def diagnostics(role: str, own: bool) -> str:
    """Metrics and the API's documents: the region's operator (or the diagnostics token)."""
    return OK if role == "regional" else FORBID


def curator_only(role: str, own: bool) -> str:
    return OK if own and role == "curator" else FORBID


def audit(role: str, own: bool) -> str:
    return OK if own and role in {"auditor", "regional"} else FORBID


def audit_listing(role: str, own: bool) -> str:
    """A record's trail: auditors and the region; an auditor elsewhere sees an empty trail."""
    return OK if role in {"auditor", "regional"} else FORBID


def pair_read(role: str, own: bool) -> str:
    """A pair: staff and auditors of its organisation, and its own members."""
    if role == "participant":
        return OK if own else HIDDEN
    return read_record(role, own)


def pair_feedback(role: str, own: bool) -> str:
    """Feedback: a member answers for themself (anyone else answering for them: refused before
    any lookup); staff record it; an auditor never writes."""
    if role == "participant":
        return OK if own else FORBID
    return write_record(role, own)


def own_answers(role: str, own: bool) -> str:
    """Which questionnaires are answered: a participant asks only about themself."""
    if role == "participant":
        return OK if own else FORBID
    return read_org(role, own)


def pair_member_or_keeper(role: str, own: bool) -> str:
    """A pair's goal progress: its members, and staff of its organisation; to others no pair."""
    if role == "participant":
        return OK if own else HIDDEN
    return write_record(role, own)


def list_own(role: str, own: bool) -> str:
    """A list filtered to what the actor may see: a participant's is of their own pairs."""
    return OK


def calendar_policy(role: str, own: bool) -> str:
    """Only the served region's operator; another region's is told this instance is not theirs."""
    if role == "regional":
        return OK if own else "422"
    return FORBID


def read_own_region(role: str, own: bool) -> str:
    """Everyone reads their region's catalogue of forms; a region not served here is not found."""
    return HIDDEN if not own and role in ("regional", "auditor") else OK


def forms_policy(role: str, own: bool) -> str:
    """The region's operator configures its catalogue; another region's is not served here."""
    if role == "regional":
        return OK if own else HIDDEN
    return FORBID


def missing_report(role: str, own: bool) -> str:
    """No such report: the same answer for everyone signed in (no oracle of existence)."""
    return HIDDEN


def participant_survey(role: str, own: bool) -> str:
    if role == "participant":
        return OK if own else FORBID
    return write_org(role, own)


def review_from_above(role: str, own: bool) -> str:
    """A practice is reviewed by the level above the school, never by the school itself."""
    if own and role in {"municipal", "regional"}:
        return OK
    return FORBID


def published_or_own(role: str, own: bool) -> str:
    """Submitted (unpublished) practice: only its scope reads it."""
    return read_record(role, own)


def judge_nomination(role: str, own: bool) -> str:
    """A school's nomination is judged by the level above it; its school and auditors see it."""
    if own and role in {"municipal", "regional"}:
        return OK
    return FORBID if own and role in {"curator", "auditor"} else HIDDEN


def own_mentor_marks(role: str, own: bool) -> str:
    """A training material is marked completed by the mentor themself (refused to anyone else
    before any lookup); another territory's mentor does not see the material."""
    if role == "participant":
        return OK if own else HIDDEN
    return FORBID


def confirm_training(role: str, own: bool) -> str:
    """The curator of the mentor's school confirms; officials and auditors above see it (403)."""
    if own and role == "curator":
        return OK
    return FORBID if own and role in {"municipal", "regional", "auditor"} else HIDDEN


def read_region(role: str, own: bool) -> str:
    return OK if own and role in {"regional", "auditor"} else FORBID


def read_municipality(role: str, own: bool) -> str:
    return OK if own and role in {"municipal", "regional", "auditor"} else FORBID


def allowed_if(policy: Callable[[str, bool], str]) -> Callable[[str, bool], str]:
    """Same rights, but the allowed call's outcome depends on state (a calendar, a report)."""
    def relaxed(role: str, own: bool) -> str:
        expected = policy(role, own)
        return ALLOWED if expected == OK else expected
    relaxed.__name__ = f"allowed_if_{policy.__name__}"
    return relaxed


# --- requests: route -> (policy, builder of the request for the "own" target) --------------------

def second_step(w: World) -> dict[str, str]:
    """A challenge and a good code for sign-in's second step: a new account each time, with its
    own authenticator (a code is good once, and the demo accounts' would soon run out)."""
    login, password = f"second-{w.unique()}", "окно-лимон-трамвай-сорок"
    w.post("/auth/accounts", {"login": login, "password": password, "role": "curator",
                              "scope": SCHOOL})
    own = w.headers(Role.CURATOR, SCHOOL, user=login)
    totp = pyotp.TOTP(w.client.post("/auth/totp/setup", headers=own).json()["secret"])
    w.client.post("/auth/totp/confirm", json={"otp": totp.now()}, headers=own).raise_for_status()
    challenge = w.client.post("/auth/login", json={"login": login, "password": password}
                              ).json()["details"][0]["challenge"]
    return {"challenge": challenge, "otp": totp.at(time.time() + totp.interval)}


Build = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    policy: Callable[[str, bool], str]
    build: Build
    anonymous_ok: bool = False


def get(url: str, **params: Any) -> Build:
    return lambda w: {"url": url.format(**w.ids), "params": {k: v.format(**w.ids) if isinstance(v, str)
                                                              else v for k, v in params.items()}}


def send(url: str, body: Callable[[World], Any], **params: Any) -> Build:
    return lambda w: {"url": url.format(**w.ids), "json": body(w), "params": params}


def mentee_body(w: World) -> dict[str, Any]:
    return {"organisation_id": w.ids["school"], "category": "student", "grade": 7,
            "consent_given_by": "guardian",
            "person": {"last_name": SURNAMES[2], "first_name": "Иван", "middle_name": "Петрович",
                       "birth_date": w.birth(2013), "guardian_name": "Зайцева Анна Ивановна"}}


def mentor_body(w: World) -> dict[str, Any]:
    return {"organisation_id": w.ids["school"], "category": "teacher", "consent_given_by": "self",
            "person": {"last_name": SURNAMES[3], "first_name": "Ольга", "middle_name": "Юрьевна",
                       "birth_date": w.birth(1980)}}


def fresh(kind: str, then: Callable[[World, str], dict[str, Any]]) -> Build:
    """A new record for each call: a state change must not make the next role's call fail."""
    def build(w: World) -> dict[str, Any]:
        record = w.new_pair() if kind == "pair" else w.new_mentee()
        return then(w, record)
    return build


def invitation_code(w: World, person: str) -> str:
    issued = w.client.post(f"/registry/people/{person}/invitation",
                           headers=w.headers(Role.CURATOR, SCHOOL))
    assert issued.status_code == 201, issued.text
    return str(issued.json()["code"])


def with_pair(w: World, pair: str) -> dict[str, Any]:
    return {"url": f"/pairing/pairs/{pair}/complete", "json": None}


def xlsx_template(w: World) -> bytes:
    return w.client.get("/registry/import-template", params={"role": "mentee"},
                        headers=w.headers()).content


def import_people(w: World) -> dict[str, Any]:
    return {"url": f"/registry/organisations/{w.ids['school']}/import", "params": {"role": "mentee"},
            "files": {"file": ("empty.xlsx", xlsx_template(w),
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}}


def import_roadmap(w: World) -> dict[str, Any]:
    from tests.security.world import ROADMAP_TEXT

    return {"url": "/documents/roadmaps", "data": {"org": SCHOOL},
            "files": {"file": ("roadmap.txt", ROADMAP_TEXT.encode(), "text/plain")}}


def preview_roadmap(w: World) -> dict[str, Any]:
    return {**import_roadmap(w), "url": "/documents/roadmaps/preview"}


def confirm_roadmap(w: World) -> dict[str, Any]:
    """The preview's items sent back unchanged (the preview asked by the school's curator)."""
    upload = import_roadmap(w)
    preview = w.client.post(upload["url"] + "/preview", data=upload["data"], files=upload["files"],
                            headers=w.headers(Role.CURATOR, SCHOOL)).json()
    keys = ("section", "activity", "due_dates", "continuous", "responsible", "result")
    review = {"content_sha256": preview["content_sha256"],
              "items": [{k: item[k] for k in keys} for item in preview["items"]]}
    return {**upload, "url": "/documents/roadmaps/reviewed",
            "data": {**upload["data"], "review": json.dumps(review)}}


def survey_body(w: World) -> dict[str, Any]:
    return {"organisation": SCHOOL, "survey": "quality-mentee", "stage": "quality",
            "respondent_role": "mentee", "answers": {"overall": 8}}


CALENDAR = {"levels": {}}

ROUTES: dict[str, Case] = {
    # registry
    "POST /registry/organisations": Case(write_above_school, send("/registry/organisations", lambda w: {
        "code": f"s-{w.unique()}", "name": "Новая школа", "kind": "school", "parent_id": w.ids["m1"]})),
    "GET /registry/organisations": Case(list_in_scope, get("/registry/organisations")),
    "GET /registry/organisations/{organisation_id}": Case(read_org, get("/registry/organisations/{school}")),
    "PUT /registry/organisations/{organisation_id}/contingent": Case(
        write_org, send("/registry/organisations/{school}/contingent", lambda w: {
            "school_year": "2025-2026", "students_total": 500, "students_10_19": 300,
            "students_15_19": 100, "teachers_total": 40, "young_teachers": 5})),
    "POST /registry/mentors": Case(write_org, send("/registry/mentors", mentor_body)),
    "POST /registry/mentees": Case(write_org, send("/registry/mentees", mentee_body)),
    "GET /registry/organisations/{organisation_id}/people": Case(
        read_org, get("/registry/organisations/{school}/people")),
    # Names only the other organisation's mentor of a confirmed pair the user reads; none here.
    "GET /registry/paired-mentors": Case(list_own, get("/registry/paired-mentors", pair_id="{pair}")),
    "GET /registry/people/{person_id}": Case(read_record, get("/registry/people/{mentee}")),
    "POST /registry/people/{person_id}/consent/withdraw": Case(write_record, fresh("mentee", lambda w, p: {
        "url": f"/registry/people/{p}/consent/withdraw", "json": {"reason": "по заявлению"}})),
    "POST /registry/people/{person_id}/invitation": Case(invite, fresh("mentee", lambda w, p: {
        "url": f"/registry/people/{p}/invitation", "json": None})),
    "POST /registry/organisations/{organisation_id}/import": Case(allowed_if(write_org), import_people),
    "GET /registry/import-template": Case(any_user, get("/registry/import-template", role="mentee")),
    "POST /registry/programmes": Case(write_org, send("/registry/programmes", lambda w: {
        "organisation_id": w.ids["school"], "form": "ученик – ученик", "school_year": "2025-2026",
        "curator": "Куратор"})),
    "GET /registry/forms": Case(read_own_region, get("/registry/forms")),
    # Every form stays enabled, so the world's programmes keep their forms.
    "PUT /registry/forms": Case(forms_policy, send("/registry/forms", lambda w: {
        "enabled": list(METHODOLOGY_FORMS)})),
    "GET /registry/organisations/{organisation_id}/programmes": Case(
        read_org, get("/registry/organisations/{school}/programmes")),
    # sign-in: open by design (they are how one gets a token); their logic has its own tests
    "POST /auth/login": Case(public, send("/auth/login", lambda w: {
        "login": "curator-school-1", "password": DEMO_PASSWORD}), anonymous_ok=True),
    "POST /auth/mfa": Case(public, lambda w: {"url": "/auth/mfa", "json": second_step(w)},
                           anonymous_ok=True),
    # A code is the credential: whoever holds one (signed in as anyone or not) may accept it.
    "POST /auth/invitation/accept": Case(public, fresh("mentee", lambda w, p: {
        "url": "/auth/invitation/accept", "json": {
            "code": invitation_code(w, p), "login": f"guardian-{w.unique()}",
            "password": "окно-лимон-трамвай-сорок"}}), anonymous_ok=True),
    "POST /auth/refresh": Case(public, send("/auth/refresh", lambda w: {
        "refresh_token": w.client.post("/auth/login", json={
            "login": "curator-school-1", "password": DEMO_PASSWORD}).json()["refresh_token"]}),
        anonymous_ok=True),
    "POST /auth/logout": Case(public, send("/auth/logout", lambda w: {"refresh_token": "x"}),
                              anonymous_ok=True),
    "GET /auth/me": Case(any_user, get("/auth/me")),
    "POST /auth/accounts": Case(regional_only, send("/auth/accounts", lambda w: {
        "login": f"user-{w.unique()}", "password": "correct-horse-battery", "role": "curator",
        "scope": SCHOOL})),
    "POST /auth/totp/setup": Case(allowed_if(any_user), send("/auth/totp/setup", lambda w: None)),
    "POST /auth/totp/confirm": Case(allowed_if(any_user), send("/auth/totp/confirm",
                                                               lambda w: {"otp": "000000"})),
    # Tokens of the matrix name no account (NO_ACCOUNT): allowed, with nothing to change.
    "POST /auth/password": Case(allowed_if(any_user), send("/auth/password", lambda w: {
        "current_password": "не-тот-пароль", "new_password": "окно-лимон-трамвай-сорок"})),
    "GET /auth/notifications": Case(allowed_if(any_user), get("/auth/notifications")),
    "PUT /auth/notifications": Case(allowed_if(any_user), send("/auth/notifications", lambda w: {
        "email": None, "email_enabled": False})),
    "POST /auth/totp/recovery-codes": Case(allowed_if(any_user), send(
        "/auth/totp/recovery-codes", lambda w: {"otp": "000000"})),
    # pairing
    "GET /pairing/suggestions": Case(read_org, get("/pairing/suggestions", programme_id="{programme}")),
    "GET /pairing/suggestions/stable": Case(read_org, get("/pairing/suggestions/stable",
                                                          programme_id="{programme}")),
    # Forming pairs names people: someone else's answer as if they did not exist.
    "POST /pairing/suggestions/confirm": Case(write_record, lambda w: {
        "url": "/pairing/suggestions/confirm", "json": {
            "programme_id": w.ids["programme"], "order_ref": "№ 1 от 01.09.2025",
            "groups": [_group(w)]}}),
    "GET /pairing/unpaired": Case(read_org, get("/pairing/unpaired", programme_id="{programme}")),
    "GET /pairing/organisations/{organisation_id}/pool": Case(read_org, get(
        "/pairing/organisations/{school}/pool")),
    "PUT /pairing/people/{person_id}/profile": Case(write_record, send(
        "/pairing/people/{mentee}/profile", lambda w: {"availability": ["пн"]})),
    "POST /pairing/pairs": Case(write_record, lambda w: {"url": "/pairing/pairs", "json": {
        "programme_id": w.ids["programme"], **_group(w)}}),
    "GET /pairing/pairs": Case(list_own, get("/pairing/pairs")),
    "GET /pairing/pairs/{pair_id}": Case(pair_read, get("/pairing/pairs/{pair}")),
    "POST /pairing/pairs/{pair_id}/goals": Case(write_record, send("/pairing/pairs/{pair}/goals",
                                                                   lambda w: {"title": "Цель"})),
    # A goal that is not there: the rights are decided before the goal is looked for.
    "POST /pairing/pairs/{pair_id}/goals/{goal_id}/progress": Case(allowed_if(pair_member_or_keeper), send(
        f"/pairing/pairs/{{pair}}/goals/{uuid4()}/progress", lambda w: {"status": "done"})),
    "POST /pairing/pairs/{pair_id}/meetings": Case(allowed_if(write_record), send(
        "/pairing/pairs/{pair}/meetings", lambda w: {"kind": "trial", "date": local_today().isoformat(),
                                                     "duration_minutes": 45,
                                                     "missing_feedback_reason": "Нет отзыва"})),
    "POST /pairing/pairs/{pair_id}/feedback": Case(allowed_if(pair_feedback), lambda w: {
        "url": f"/pairing/pairs/{w.ids['pair']}/feedback", "json": {
            "meeting_number": 1, "satisfaction": 8, "respondent_id": w.ids["mentee"]}}),
    "GET /pairing/pairs/{pair_id}/meetings/{number}/feedback": Case(pair_read, get(
        "/pairing/pairs/{pair}/meetings/1/feedback")),
    "POST /pairing/pairs/{pair_id}/complete": Case(allowed_if(write_record), fresh("pair", with_pair)),
    "POST /pairing/pairs/{pair_id}/dissolve": Case(write_record, fresh("pair", lambda w, p: {
        "url": f"/pairing/pairs/{p}/dissolve", "json": {"reason": "переезд"}})),
    "GET /pairing/reminders": Case(list_own, get("/pairing/reminders")),
    # A proposal by another school of a mentor of "our" school: answered by whoever may write
    # at the mentor's organisation; an auditor there sees it (403); anyone else: no such pair.
    "GET /pairing/proposals": Case(list_own, get("/pairing/proposals")),
    "POST /pairing/pairs/{pair_id}/confirm": Case(write_record, lambda w: {
        "url": f"/pairing/pairs/{w.new_proposal()}/confirm", "json": None}),
    "POST /pairing/pairs/{pair_id}/decline": Case(write_record, lambda w: {
        "url": f"/pairing/pairs/{w.new_proposal()}/decline", "json": {"reason": "нет мест"}}),
    # audit and monitoring
    "GET /audit/verify": Case(audit, get("/audit/verify")),
    "GET /audit/trail/{record_id}": Case(audit_listing, get("/audit/trail/{mentee}")),
    "GET /audit/replay": Case(audit, get("/audit/replay", as_of="2999-01-01", org=SCHOOL)),
    "GET /audit/export": Case(audit, get("/audit/export")),
    "GET /audit/public-key": Case(audit_listing, get("/audit/public-key")),
    # Signing a head on demand writes the heads file: the region's operators, never auditors.
    "POST /audit/heads": Case(regional_only, send("/audit/heads", lambda w: {})),
    "GET /monitoring/dashboard": Case(allowed_if(read_org), get("/monitoring/dashboard", org=SCHOOL)),
    "GET /monitoring/regions/{region}/dashboard": Case(
        allowed_if(read_region), get("/monitoring/regions/demo/dashboard")),
    "GET /monitoring/municipalities/{region}/{municipality}/dashboard": Case(
        allowed_if(read_municipality),
        get("/monitoring/municipalities/demo/m1/dashboard")),
    "GET /monitoring/organisations/{region}/{municipality}/{organisation}/dashboard": Case(
        allowed_if(read_org), get("/monitoring/organisations/demo/m1/school-a/dashboard")),
    "GET /monitoring/kpis": Case(allowed_if(read_org), get("/monitoring/kpis", org=SCHOOL)),
    "GET /monitoring/questionnaires": Case(any_user, get("/monitoring/questionnaires")),
    "GET /monitoring/surveys/answered": Case(own_answers, get("/monitoring/surveys/answered", org=SCHOOL,
                                                           respondent="{mentee}:{pair}")),
    "POST /monitoring/surveys": Case(allowed_if(participant_survey), send("/monitoring/surveys",
                                                                          survey_body)),
    "GET /monitoring/calendar": Case(read_org, get("/monitoring/calendar", org=SCHOOL)),
    "PUT /monitoring/calendar": Case(allowed_if(calendar_policy), send("/monitoring/calendar",
                                                                     lambda w: CALENDAR)),
    # The bell: everyone reads and marks their own; a late report is reminded from above.
    "GET /monitoring/notifications": Case(any_user, get("/monitoring/notifications")),
    "GET /monitoring/notifications/unread": Case(any_user, get("/monitoring/notifications/unread")),
    "POST /monitoring/notifications/read": Case(any_user, send("/monitoring/notifications/read",
                                                               lambda w: {"ids": None})),
    "POST /monitoring/notifications/remind": Case(allowed_if(write_above_school), send(
        "/monitoring/notifications/remind", lambda w: {"report_id": f"org:{SCHOOL}:2025-12-20"})),
    "GET /monitoring/reports/overdue": Case(read_org, get("/monitoring/reports/overdue", org=SCHOOL)),
    # documents
    "POST /documents/pairs-order": Case(write_org, send("/documents/pairs-order", lambda w: {
        **ISSUER, "org": SCHOOL, "school_year": "2025-2026", "pairs": [
            {"pair_id": w.ids["pair"], "mentor_id": w.ids["mentor"], "mentee_ids": [w.ids["mentee"]],
             "form": "учитель – ученик"}]})),
    "POST /documents/curator-order": Case(write_org, send("/documents/curator-order", lambda w: {
        **ISSUER, "org": SCHOOL, "school_year": "2025-2026", "curator_name": "Иванова Ольга",
        "curator_position": "Заместитель директора"})),
    "POST /documents/award-order": Case(write_org, send("/documents/award-order", lambda w: {
        **ISSUER, "org": SCHOOL, "school_year": "2025-2026",
        "awards": [{"mentor_id": w.ids["mentor"], "merit": "за работу"}]})),
    "POST /documents/thanks-letter": Case(write_org, send("/documents/thanks-letter", lambda w: {
        **ISSUER, "org": SCHOOL, "addressee": "ООО «Партнёр»", "text": "Благодарим за помощь школе"})),
    # A consent form prints a child's name, birth date and guardian: only the school issues it
    # (officials above it see the child by label, 152-ФЗ, ст. 5 — NAMES_HIDDEN).
    "POST /documents/consent": Case(curator_only, send("/documents/consent", lambda w: {
        **ISSUER, "org": SCHOOL, "person_id": w.ids["mentee"]})),
    "POST /documents/development-plan": Case(write_org, send("/documents/development-plan", lambda w: {
        **ISSUER, "org": SCHOOL, "pair_id": w.ids["pair"], "school_year": "2025-2026"})),
    "POST /documents/report": Case(write_org, send("/documents/report", lambda w: {
        **ISSUER, "org": SCHOOL, "territory": "Школа", "period": "2025 год"})),
    "GET /documents": Case(list_in_scope, get("/documents")),
    "POST /documents/roadmaps": Case(write_org, import_roadmap),
    "POST /documents/roadmaps/preview": Case(write_org, preview_roadmap),
    "POST /documents/roadmaps/reviewed": Case(write_org, confirm_roadmap),
    "GET /documents/roadmaps": Case(list_in_scope, get("/documents/roadmaps")),
    "GET /documents/roadmaps/overdue": Case(list_in_scope, get("/documents/roadmaps/overdue")),
    "GET /documents/roadmaps/{roadmap_id}": Case(read_record, get("/documents/roadmaps/{roadmap}")),
    "PUT /documents/roadmaps/{roadmap_id}/items/{item_id}": Case(write_record, send(
        "/documents/roadmaps/{roadmap}/items/{item}", lambda w: {"status": "in_progress"})),
    "POST /documents/practices": Case(curator_only, send("/documents/practices", lambda w: {
        "org": SCHOOL, "title": "Ещё практика", "description": "Описание ещё одной практики",
        "form": "учитель – ученик"})),
    "GET /documents/practices": Case(any_user, get("/documents/practices")),
    "POST /documents/practices/{practice_id}/review": Case(allowed_if(review_from_above), send(
        "/documents/practices/{practice}/review", lambda w: {"decision": "reject"})),
    "GET /documents/practices/{practice_id}": Case(allowed_if(published_or_own),
                                                   get("/documents/practices/{practice}")),
    "POST /documents/nominations": Case(curator_only, send("/documents/nominations", lambda w: {
        "org": SCHOOL, "mentor_id": w.new_mentor(), "school_year": "2025-2026",
        "justification": "Ведёт клуб наставников для пятиклассников"})),
    "GET /documents/nominations": Case(list_in_scope, get("/documents/nominations")),
    "GET /documents/nominations/winners": Case(any_user, get("/documents/nominations/winners")),
    "GET /documents/nominations/{nomination_id}": Case(read_record, get(
        "/documents/nominations/{nomination}")),
    # Shortlisting twice is refused (409): allowed, whatever the order of the roles.
    "POST /documents/nominations/{nomination_id}/decision": Case(allowed_if(judge_nomination), send(
        "/documents/nominations/{nomination}/decision", lambda w: {
            "stage": "municipality", "decision": "shortlisted"})),
    # No winners yet: the judge is told so (422), anyone else is refused.
    "POST /documents/nominations/award-order": Case(allowed_if(write_above_school), send(
        "/documents/nominations/award-order", lambda w: {
            **ISSUER, "org": MUNICIPALITY, "school_year": "2025-2026"})),
    "POST /documents/nominations/thanks-letters": Case(allowed_if(write_above_school), send(
        "/documents/nominations/thanks-letters", lambda w: {
            **ISSUER, "org": MUNICIPALITY, "school_year": "2025-2026"})),
    "POST /documents/training/materials": Case(write_above_school, send(
        "/documents/training/materials", lambda w: {
            "org": MUNICIPALITY, "form": "учитель – ученик", "title": "Ещё материал",
            "description": "Памятка наставнику о планировании"})),
    "GET /documents/training/materials": Case(any_user, get("/documents/training/materials")),
    "POST /documents/training/materials/{material_id}/completed": Case(own_mentor_marks, send(
        "/documents/training/materials/{material}/completed", lambda w: None)),
    "GET /documents/training/completions": Case(list_own, get("/documents/training/completions")),
    # Confirmed once (409 after): allowed, whatever the order of the roles.
    "POST /documents/training/completions/{completion_id}/confirm": Case(
        allowed_if(confirm_training), send("/documents/training/completions/{completion}/confirm",
                                           lambda w: None)),
    "GET /documents/reports": Case(list_in_scope, get("/documents/reports")),
    "POST /documents/reports/{report_id}/submit": Case(missing_report, lambda w: {
        "url": f"/documents/reports/{w.ids['document']}/submit", "json": {
            **ISSUER, "territory": "Школа А"}}),
    "GET /documents/{document_id}": Case(read_record, get("/documents/{document}")),
    "GET /documents/{document_id}/{fmt}": Case(read_record, get("/documents/{document}/docx")),
    # operations
    "GET /health": Case(public, get("/health"), anonymous_ok=True),
    "GET /live": Case(public, get("/live"), anonymous_ok=True),
    "GET /ready": Case(allowed_if(public), get("/ready"), anonymous_ok=True),
    "GET /metrics": Case(diagnostics, get("/metrics")),
}


def _group(w: World) -> dict[str, Any]:
    mentor, mentee = w.pooled()
    return {"mentor_id": mentor, "mentee_ids": [mentee]}


def app_routes(world: World) -> set[str]:
    found = set()
    for route in world.client.app.routes:
        if isinstance(route, APIRoute) or hasattr(route, "methods"):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD" and getattr(route, "include_in_schema", True):
                    found.add(f"{method} {route.path}")
    spec = world.client.app.openapi()
    found |= {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    return found


def test_every_route_has_a_policy(world: World) -> None:
    routes = {r for r in app_routes(world) if not r.startswith(("GET /docs", "GET /redoc",
                                                                "GET /openapi"))}
    missing = sorted(routes - ROUTES.keys())
    assert not missing, f"routes without an access policy: {missing}"


CASES = [(route, role, own) for route in ROUTES for role in ROLES for own in (True, False)
         if not (role == "anonymous" and not own)]


def actor_headers(world: World, route: str, role: str, own: bool) -> dict[str, str]:
    if role == "anonymous":
        return {}
    scope = (OWN_SCOPE if own else OTHER_SCOPE)[role]
    user = "tester"
    if role == "participant":
        # The pair's own mentee, or somebody else entirely.
        user = world.ids["mentee"] if own else "5a0f6c1e-0000-4000-8000-000000000001"
    return world.headers(Role(role), scope, user)


DENIAL_CODES = {"401": {"UNAUTHENTICATED"}, "403": {"FORBIDDEN", "NAMES_HIDDEN"}}


@pytest.mark.parametrize(("route", "role", "own"), CASES,
                         ids=[f"{r}|{role}|{'own' if own else 'other'}" for r, role, own in CASES])
def test_access(world: World, route: str, role: str, own: bool) -> None:
    case = ROUTES[route]
    request = case.build(world)
    method = route.split(" ", 1)[0]
    headers = actor_headers(world, route, role, own)
    response = world.client.request(method, request.pop("url"), headers=headers, **request)
    if role == "anonymous":
        expected = case.policy(role, own) if case.anonymous_ok else UNAUTH
    else:
        expected = case.policy(role, own)
    status = response.status_code
    body = response.text
    detail = f"{route} as {role} ({'own' if own else 'other'}): {status} {body[:300]}"
    if expected == OK:
        assert 200 <= status < 300, detail
    elif expected == ALLOWED:
        assert status not in (401, 403) and status < 500, detail
        if status == 404:
            assert response.json()["code"] not in {"PERSON_NOT_FOUND", "PAIR_NOT_FOUND"}, detail
    else:
        assert str(status) == expected, detail
        payload = response.json()
        assert set(payload) <= {"code", "message", "status"}, detail  # no details, no counts
        if expected in DENIAL_CODES:
            assert payload["code"] in DENIAL_CODES[expected], detail
        elif expected == HIDDEN:
            assert payload["code"].endswith("NOT_FOUND"), detail
        for secret in (*SURNAMES, world.ids["mentee"], world.ids["mentor"], "Школа А"):
            assert secret not in body, f"denial reveals {secret!r}: {detail}"
    if expected in (OK, ALLOWED) and not own:
        # Lists of another scope are allowed, but must hold nothing of ours.
        for secret in (*SURNAMES, world.ids["mentee"], world.ids["pair"], world.ids["document"]):
            assert secret not in body, f"other scope sees {secret!r}: {detail}"
