"""Participants in the portal: the curator's invitation code, the sign-in with it, and a
participant's own pairs with a feedback form per meeting (against a fake of the services' API)."""

from __future__ import annotations

from services.portal.auth import COOKIE
from shared.auth import Actor, OrgPath, Role, issue_token
from tests.unit.portal.conftest import SECRET, PortalUnderTest

SCHOOL = {"id": "00000000-0000-0000-0000-00000000000a", "path": "demo/m1/school-1",
          "name": "МБОУ «Школа № 1»", "kind": "school", "parent_id": None}
MENTOR, MENTEE = "00000000-0000-0000-0000-000000000100", "00000000-0000-0000-0000-000000000101"
PAIR = "00000000-0000-0000-0000-000000000201"
PERSON = {"id": MENTEE, "role": "mentee", "organisation_id": SCHOOL["id"], "category": "student",
          "grade": 7, "birth_year": 2013, "consent": "guardian", "withdrawn": False,
          "can_be_paired": True, "full_name": "Абрамова Ева Игоревна",
          "personal": {"guardian_name": "Абрамова Ольга Петровна"}}


def test_the_curator_issues_a_printable_code_shown_once(portal: PortalUnderTest) -> None:
    portal.api.on("GET", f"/registry/people/{MENTEE}", PERSON)
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}", SCHOOL)
    card = portal.client().get(f"/people/{MENTEE}")
    assert "Выдать код приглашения" in card.text and "законному представителю" in card.text
    portal.api.on("POST", f"/registry/people/{MENTEE}/invitation",
                  {"code": "ABCD-EFGH-JKMN", "person_id": MENTEE, "holder": "guardian",
                   "expires_at": 1_800_000_000.0}, status=201)
    page = portal.client().post(f"/people/{MENTEE}/invitation")
    assert page.status_code == 200, page.text
    assert "Код для входа в систему наставничества" in page.text and "ABCD-EFGH-JKMN" in page.text
    assert "законного представителя" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    # Officials above the school see no such button (the API would refuse them anyway).
    municipal = portal.client(Role.MUNICIPAL, "demo/m1").get(f"/people/{MENTEE}")
    assert "Выдать код приглашения" not in municipal.text


def test_sign_in_with_a_code_leads_to_my_pairs(portal: PortalUnderTest) -> None:
    assert 'href="/login/invitation"' in portal.client(None).get("/login").text
    assert "Код приглашения" in portal.client(None).get("/login/invitation").text
    portal.api.on("POST", "/auth/invitation/accept",
                  {"code": "INVALID_INVITATION", "message": "Код приглашения неверен, уже "
                   "использован или истёк", "status": 401}, status=401)
    form = {"invitation_code": "abcd efgh jkmn", "login": "orlova", "password": "Ласточка-2026-река"}
    refused = portal.client(None).post("/login/invitation", data=form)
    assert refused.status_code == 401 and "Код приглашения неверен" in refused.text
    assert 'value="orlova"' in refused.text
    portal.api.on("POST", "/auth/invitation/accept", {
        "access_token": "token", "token_type": "bearer", "expires_in": 1800, "refresh_token": "r",
        "login": "orlova", "role": "participant", "scope": SCHOOL["path"]}, status=201)
    signed = portal.client(None).post("/login/invitation", data=form)
    assert signed.status_code == 303 and signed.headers["location"] == "/my"
    assert COOKIE in signed.headers["set-cookie"]
    assert portal.api.sent("POST", "/auth/invitation/accept")[-1] == {
        "code": "abcd efgh jkmn", "login": "orlova", "password": "Ласточка-2026-река"}


def test_a_participant_sees_their_pairs_and_gives_feedback_per_meeting(
        portal: PortalUnderTest) -> None:
    # A participant's token names them by their registry id.
    client = portal.client(None)
    client.cookies.set(COOKIE, issue_token(Actor(user=MENTEE, role=Role.PARTICIPANT,
                                                 scope=OrgPath.parse(SCHOOL["path"])), SECRET))
    assert client.get("/").headers["location"] == "/my"
    portal.api.on("GET", "/monitoring/questionnaires", [])
    pair = {"id": PAIR, "mentor_id": MENTOR, "mentee_ids": [MENTEE], "status": "active",
            "form": "teacher-student",
            "organisation_name": SCHOOL["name"], "formed_on": "2026-10-01", "goals": [],
            "meetings": [{"number": 1, "kind": "intro", "date": "2026-10-05", "duration_minutes": 45,
                          "format": "in_person"},
                         {"number": 2, "kind": "trial", "date": "2026-10-12", "duration_minutes": 45,
                          "format": "in_person"}]}
    portal.api.on("GET", "/pairing/pairs", [{"id": PAIR}])
    portal.api.on("GET", "/auth/me", {"user": MENTEE, "role": "participant",
                                      "scope": SCHOOL["path"], "holder": "person"})
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", pair)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}/meetings/1/feedback", [
        {"respondent_id": MENTEE, "side": "mentee", "satisfaction": 8, "went_well": "Познакомились",
         "to_change": ""}])
    portal.api.on("GET", f"/pairing/pairs/{PAIR}/meetings/2/feedback", [])
    page = client.get("/my")
    assert page.status_code == 200, page.text
    assert "Я наставляемый" in page.text and "Познакомились" in page.text
    assert "Ваш наставник — из организации МБОУ «Школа № 1»" in page.text
    # A form only for the meeting not yet answered.
    assert "Отправить отзыв о встрече № 2" in page.text
    assert "Отправить отзыв о встрече № 1" not in page.text
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/feedback", {"side": "mentee"}, status=201)
    sent = client.post(f"/my/pairs/{PAIR}/feedback", data={"meeting_number": 2, "satisfaction": 9,
                                                           "went_well": "Решили задачу"})
    assert sent.status_code == 303 and sent.headers["location"] == "/my?saved=feedback"
    # The respondent is the signed-in participant: the service takes it from the token.
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/feedback")[-1] == {
        "meeting_number": 2, "satisfaction": 9, "went_well": "Решили задачу", "to_change": ""}


PARTNER_SCHOOL = "МБОУ «Гимназия № 2»"


def my_pair_page(portal: PortalUnderTest, user: str, holder: str, pair: dict[str, object]) -> str:
    client = portal.client(None)
    client.cookies.set(COOKIE, issue_token(Actor(user=user, role=Role.PARTICIPANT,
                                                 scope=OrgPath.parse(SCHOOL["path"])), SECRET))
    portal.api.on("GET", "/monitoring/questionnaires", [])
    portal.api.on("GET", "/auth/me", {"user": user, "role": "participant",
                                      "scope": SCHOOL["path"], "holder": holder})
    portal.api.on("GET", "/pairing/pairs", [{"id": PAIR}])
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        "id": PAIR, "status": "active", "form": "teacher-student", "formed_on": "2026-10-01",
        "goals": [], "meetings": [], **pair})
    page = client.get("/my")
    assert page.status_code == 200, page.text
    # A participant is given no one's name (shared.auth.personal_data_view): none is asked for.
    assert not [c for c in portal.api.calls if c.url.path.startswith("/registry/people")]
    return page.text


def test_a_guardian_is_told_they_act_for_the_mentee_and_sees_the_mentors_organisation(
        portal: PortalUnderTest) -> None:
    page = my_pair_page(portal, MENTEE, "guardian", {
        "mentor_id": MENTOR, "mentee_ids": [MENTEE], "organisation_name": SCHOOL["name"],
        "cross_organisation": True, "mentor_organisation_name": PARTNER_SCHOOL})
    assert "Вы вошли как законный представитель наставляемого" in page
    assert "Я наставляемый" not in page and "Пара наставляемого — МБОУ «Школа № 1»" in page
    assert f"Наставник — из организации {PARTNER_SCHOOL}" in page
    assert "Форма наставничества: Учитель – ученик" in page


def test_a_mentor_sees_their_mentees_by_role_and_organisation(portal: PortalUnderTest) -> None:
    other = "00000000-0000-0000-0000-000000000102"
    page = my_pair_page(portal, MENTOR, "person", {
        "mentor_id": MENTOR, "mentee_ids": [MENTEE, other], "organisation_name": SCHOOL["name"],
        "cross_organisation": False, "mentor_organisation_name": None})
    assert "Я наставник — МБОУ «Школа № 1»" in page
    assert "Ваши наставляемые (2) — из организации МБОУ «Школа № 1»" in page
    assert "законный представитель" not in page


def test_a_minor_mentors_guardian_is_told_they_act_for_the_mentor(portal: PortalUnderTest) -> None:
    page = my_pair_page(portal, MENTOR, "guardian", {
        "mentor_id": MENTOR, "mentee_ids": [MENTEE], "organisation_name": SCHOOL["name"],
        "cross_organisation": False, "mentor_organisation_name": None})
    assert "Вы вошли как законный представитель наставника" in page
    assert "Пара наставника — МБОУ «Школа № 1»" in page and "Я наставник" not in page
    assert "Ваш наставляемый — из организации МБОУ «Школа № 1»" in page


def test_the_pair_at_work_comes_first_each_with_its_date_and_state(portal: PortalUnderTest) -> None:
    """Last year's finished pair, with all its meetings, must not bury the pair at work."""
    old_pair = "00000000-0000-0000-0000-0000000000b1"
    client = portal.client(None)
    client.cookies.set(COOKIE, issue_token(Actor(user=MENTOR, role=Role.PARTICIPANT,
                                                 scope=OrgPath.parse(SCHOOL["path"])), SECRET))
    portal.api.on("GET", "/monitoring/questionnaires", [])
    portal.api.on("GET", "/auth/me", {"user": MENTOR, "role": "participant",
                                      "scope": SCHOOL["path"], "holder": "person"})
    portal.api.on("GET", "/pairing/pairs", [{"id": old_pair}, {"id": PAIR}])
    common = {"mentor_id": MENTOR, "mentee_ids": [MENTEE], "form": "teacher-student", "goals": [],
              "meetings": [], "organisation_name": SCHOOL["name"]}
    portal.api.on("GET", f"/pairing/pairs/{old_pair}", {
        **common, "id": old_pair, "status": "completed", "formed_on": "2025-09-20"})
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        **common, "id": PAIR, "status": "active", "formed_on": "2026-12-01"})
    page = client.get("/my").text
    assert page.index(f'id="pair-{PAIR}"') < page.index(f'id="pair-{old_pair}"')
    assert "Пара сформирована 01.12.2026 · действует" in page
    assert "Пара сформирована 20.09.2025 · завершена" in page
