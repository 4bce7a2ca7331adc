"""The pairing service end to end: people registered in the registry reach the pools over the
bus, suggestions are confirmed into pairs and groups, pairs meet, give feedback, complete or
dissolve — and a consent withdrawn in the registry dissolves the pair on its own."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from services.pairing.application import PairingService
from services.pairing.commands import FormPair
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.errors import DomainError
from shared.store import CommandContext
from tests.conftest import wait_until
from tests.integration.pairing.conftest import SCHOOL_A, SURNAMES, System

FREE_TEXT = ("Разобрали олимпиадную задачу", "Больше практики")
#: What curators type: a goal's wording, a reason to dissolve, a reason to withdraw consent.
CURATOR_TEXT = ("Подготовиться к муниципальному этапу", "Смена расписания", "по заявлению",
                "Мюллер уехал на сборы")


def assert_no_personal_data(events: list[Envelope]) -> None:
    for event in events:
        text = event.to_bytes().decode()
        for secret in (*SURNAMES, "Олег", "Орлова", *FREE_TEXT, *CURATOR_TEXT):
            assert secret not in text, (event.type, secret)


def pool_ids(system: System, school: str = "school-a") -> dict[str, dict[str, Any]]:
    pool = system.get(f"/pairing/organisations/{system.org[school]}/pool").json()
    return {p["id"]: p for p in pool["mentors"] + pool["mentees"]}


def error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert body["message"] and any("а" <= ch <= "я" for ch in body["message"].lower())
    return response.status_code, body["code"]


def test_suggestions_confirmed_into_a_group_and_a_pair_on_the_bus(system: System) -> None:
    olympiad_mentor = system.mentor(capacity=3, competencies=("олимпиада",))
    career_mentor = system.mentor(capacity=1, competencies=("профориентация",))
    olympiad = [system.mentee(requests=("олимпиада",)) for _ in range(3)]
    career = system.mentee(requests=("профориентация",))
    programme = system.programme()
    system.pools_caught_up()
    assert {olympiad_mentor, career_mentor, career, *olympiad} <= set(pool_ids(system))

    response = system.get("/pairing/suggestions", programme_id=programme)
    assert response.status_code == 200, response.text
    suggestion = response.json()
    assert suggestion["form"] == "teacher-student" and suggestion["exact"] is True
    groups = {g["mentor_id"]: g for g in suggestion["groups"]}
    assert sorted(groups[olympiad_mentor]["mentee_ids"]) == sorted(olympiad)
    assert groups[career_mentor]["mentee_ids"] == [career]
    assert suggestion["unmatched"] == []
    criteria = {c["code"] for c in groups[career_mentor]["assignments"][0]["criteria"]}
    assert {"REQUESTS_MATCH", "SAME_ORGANISATION", "SAME_MUNICIPALITY"} <= criteria
    points = groups[career_mentor]["assignments"][0]
    assert abs(sum(c["points"] for c in points["criteria"]) - points["score"]) < 1e-6
    # The other objective pairs the same people here; it is a parameter, not a different route.
    assert system.get("/pairing/suggestions", programme_id=programme,
                      objective="max_pairs").json()["paired"] == 4

    confirmed = system.post("/pairing/suggestions/confirm", {
        "programme_id": programme, "order_ref": "Приказ № 12 от 01.09.2025",
        "groups": [{"mentor_id": g["mentor_id"], "mentee_ids": g["mentee_ids"]}
                   for g in suggestion["groups"]]})
    assert confirmed.status_code == 201, confirmed.text
    assert len(confirmed.json()["pair_ids"]) == 2

    events = system.published()
    formed = {str(e.payload["mentor_id"]): e for e in events if e.type == "PairFormed"}
    group = formed[olympiad_mentor]
    assert sorted(group.payload["mentee_ids"]) == sorted(olympiad)  # capacity 3: a group of 3
    assert group.payload["order_ref"] == "Приказ № 12 от 01.09.2025"
    assert group.payload["suggested"] is True and group.payload["programme_id"] == programme
    assert group.payload["form"] == "teacher-student" and str(group.org) == "demo/m1/school-a"
    assert formed[career_mentor].payload["mentee_ids"] == [career]
    assert_no_personal_data(events + system.bus("registry"))

    pool = pool_ids(system)
    assert pool[olympiad_mentor]["load"] == 3 and pool[career_mentor]["load"] == 1
    assert not any(pool[m]["in_pool"] for m in [*olympiad, career])
    # Everyone is paired: nothing left to suggest, and a newcomer finds every mentor full.
    newcomer = system.mentee(requests=("олимпиада",))
    system.pools_caught_up()
    after = system.get("/pairing/suggestions", programme_id=programme).json()
    assert after["groups"] == []
    assert after["unmatched"] == [{"mentee_id": newcomer, "code": "ALL_MENTORS_FULL",
                                   "reason": after["unmatched"][0]["reason"]}]
    unpaired = system.get("/pairing/unpaired", programme_id=programme).json()
    assert [(u["mentee_id"], u["code"]) for u in unpaired] == [(newcomer, "ALL_MENTORS_FULL")]
    full = system.post("/pairing/pairs", {"programme_id": programme,
                                          "mentor_id": olympiad_mentor, "mentee_ids": [newcomer]})
    assert error(full) == (409, "NO_CAPACITY")


def test_hard_rules_are_refused_over_http_and_nothing_is_half_formed(system: System) -> None:
    teacher = system.mentor(capacity=2)
    employer = system.mentor(category="employer")
    mentees = [system.mentee() for _ in range(4)]
    programme = system.programme()
    system.pools_caught_up()
    stored = system.pairing.service.events.max_position()

    def form(mentor_id: str, *mentee_ids: str) -> Any:
        return system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor_id,
                                              "mentee_ids": list(mentee_ids)})

    assert error(form(employer, mentees[0])) == (422, "CATEGORY_NOT_ALLOWED")  # wrong form
    assert error(form(teacher, *mentees[:3])) == (409, "NO_CAPACITY")
    assert error(form(teacher, mentees[0], mentees[0])) == (422, "DUPLICATE_MENTEE")
    assert system.put(f"/pairing/people/{mentees[1]}/profile",
                      {"class_teacher": teacher}).status_code == 204
    assert error(form(teacher, mentees[1])) == (422, "CONFLICT_OF_INTEREST")
    assert system.put(f"/pairing/people/{mentees[2]}/profile",
                      {"relatives": [teacher]}).status_code == 204
    assert error(form(teacher, mentees[2])) == (422, "CONFLICT_OF_INTEREST")
    # A curator of another school may not pair school A's people: to them they do not exist.
    other = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": teacher,
                                           "mentee_ids": [mentees[0]]}, scope="demo/m1/school-b")
    assert error(other) == (404, "MENTEE_NOT_FOUND")
    # One bad group spoils the whole confirmation: the good one is not formed either.
    mixed = system.post("/pairing/suggestions/confirm", {
        "programme_id": programme, "order_ref": "Приказ № 1",
        "groups": [{"mentor_id": teacher, "mentee_ids": [mentees[0]]},
                   {"mentor_id": employer, "mentee_ids": [mentees[3]]}]})
    assert error(mixed) == (422, "CATEGORY_NOT_ALLOWED")
    assert system.pairing.service.events.max_position() == stored
    assert system.get("/pairing/pairs").json() == []

    # The explained suggestion says why the conflicted mentees got no pair: the teacher is ruled
    # out by the conflict of interest and the employer by the form.
    suggestion = system.get("/pairing/suggestions", programme_id=programme).json()
    assert {g["mentor_id"]: sorted(g["mentee_ids"]) for g in suggestion["groups"]} == {
        teacher: sorted([mentees[0], mentees[3]])}
    reasons = {u["mentee_id"]: u["code"] for u in suggestion["unmatched"]}
    assert reasons == {mentees[1]: "NO_ADMISSIBLE_MENTOR", mentees[2]: "NO_ADMISSIBLE_MENTOR"}
    # No consent: withdrawn in the registry, refused here once the pools know it.
    system.withdraw(mentees[3])
    system.pools_caught_up()
    assert error(form(teacher, mentees[3])) == (422, "NO_CONSENT")
    assert system.pairing.service.events.max_position() == stored


def test_a_pair_holds_only_people_its_author_may_pair_and_belongs_to_one_school(system: System) -> None:
    teacher = system.mentor(capacity=3, competencies=("олимпиада",))
    mine = system.mentee()
    theirs = system.mentee(school="school-b")
    # A mentor of another municipality, registered by that municipality's school.
    m2 = system.post("/registry/organisations", {"code": "m2", "name": "Другой округ",
                     "kind": "municipality", "parent_id": system.get(
                         f"/registry/organisations/{system.org['m1']}", Role.REGIONAL, "demo"
                     ).json()["parent_id"]}, Role.REGIONAL, "demo").json()["id"]
    school_c = system.post("/registry/organisations", {"code": "school-c", "name": "Школа C",
                           "kind": "school", "parent_id": m2}, Role.REGIONAL, "demo").json()["id"]
    far = system.post("/registry/mentors", {
        "organisation_id": school_c, "category": "teacher", "consent_given_by": "self",
        "competencies": ["олимпиада"], "capacity": 2,
        "person": {"last_name": "Дальний", "first_name": "Олег", "birth_date": "1980-01-02"}},
        scope="demo/m2/school-c").json()["id"]
    system.pools_caught_up()
    stored = system.pairing.service.events.max_position()

    def form(mentor_id: str, mentee_ids: list[str], role: Role = Role.CURATOR,
             scope: str = "demo/m1/school-a") -> Any:
        return system.post("/pairing/pairs", {"form": "учитель – ученик", "mentor_id": mentor_id,
                                              "mentee_ids": mentee_ids}, role, scope)

    # School A's curator cannot slip school B's pupil into a group: to them it does not exist.
    assert error(form(teacher, [mine, theirs])) == (404, "MENTEE_NOT_FOUND")
    assert error(form(teacher, [theirs, mine])) == (404, "MENTEE_NOT_FOUND")
    # The municipality may touch both schools, but a group formed by hand is one school's.
    assert error(form(teacher, [mine, theirs], Role.MUNICIPAL, "demo/m1")) == (
        422, "GROUP_ACROSS_ORGANISATIONS")
    # A mentor from another municipality: unseen by m1, out of the pair's territory for the region.
    assert error(form(far, [mine], Role.MUNICIPAL, "demo/m1")) == (404, "MENTOR_NOT_FOUND")
    assert error(form(far, [mine], Role.REGIONAL, "demo")) == (422, "MENTOR_OUT_OF_SCOPE")
    assert system.pairing.service.events.max_position() == stored

    # A municipal suggestion may give one mentor pupils of two schools: each school gets its group.
    confirmed = system.post("/pairing/suggestions/confirm", {
        "municipality_id": system.org["m1"], "form": "учитель – ученик", "order_ref": "Приказ № 7",
        "groups": [{"mentor_id": teacher, "mentee_ids": [mine, theirs]}]}, Role.MUNICIPAL, "demo/m1")
    assert confirmed.status_code == 201, confirmed.text
    formed = {tuple(e.payload["mentee_ids"]): str(e.org) for e in system.published()
              if e.type == "PairFormed"}
    assert formed == {(mine,): "demo/m1/school-a", (theirs,): "demo/m1/school-b"}
    # School B's curator sees its own pupil's pair, and only that one; school A's sees its own
    # and, the teacher being its own, school B's pair too (a cross-organisation pair grants
    # both sides sight: docs/cross-organisation-pairs.md).
    seen = {school: sorted((p["path"], tuple(p["mentee_ids"])) for p in system.get(
        "/pairing/pairs", scope=f"demo/m1/{school}").json()) for school in ("school-a", "school-b")}
    assert seen["school-b"] == [("demo/m1/school-b", (theirs,))]
    assert seen["school-a"] == [("demo/m1/school-a", (mine,)), ("demo/m1/school-b", (theirs,))]


def test_stable_matching_honours_mutual_choice(system: System) -> None:
    first, second = system.mentor(), system.mentor()
    anna, boris = system.mentee(), system.mentee()
    programme = system.programme()
    system.pools_caught_up()
    # After the group meeting: anna and second chose each other, boris and first too.
    for person, chosen in ((anna, [second]), (second, [anna]), (boris, [first]), (first, [boris])):
        assert system.put(f"/pairing/people/{person}/profile",
                          {"preferred": chosen}).status_code == 204
    stable = system.get("/pairing/suggestions/stable", programme_id=programme).json()
    assert {g["mentor_id"]: g["mentee_ids"] for g in stable["groups"]} == {
        second: [anna], first: [boris]}
    optimal = system.get("/pairing/suggestions", programme_id=programme).json()
    codes = {c["code"] for g in optimal["groups"] for a in g["assignments"] for c in a["criteria"]}
    assert "MUTUAL_CHOICE" in codes

    # A whole municipality: school B's mentee is offered school A's free mentor, and only a
    # municipal user may ask.
    third = system.mentor(competencies=("робототехника",))
    other_school = system.mentee(school="school-b", requests=("робототехника",))
    system.pools_caught_up()
    wide = system.get("/pairing/suggestions", role=Role.MUNICIPAL, scope="demo/m1",
                      municipality_id=system.org["m1"], form="Учитель – ученик")
    assert wide.status_code == 200, wide.text
    assert {g["mentor_id"]: g["mentee_ids"] for g in wide.json()["groups"]}[third] == [other_school]
    denied = system.get("/pairing/suggestions", municipality_id=system.org["m1"],
                        form="teacher-student")
    assert error(denied) == (403, "FORBIDDEN")
    unknown = system.get("/pairing/suggestions", role=Role.MUNICIPAL, scope="demo/m1",
                         municipality_id=system.org["m1"], form="кто-то – кому-то")
    assert error(unknown) == (422, "UNKNOWN_FORM")


def test_meetings_in_order_feedback_reveal_and_completion(system: System) -> None:
    mentor_id = system.mentor()
    mentee_id = system.mentee()
    system.pools_caught_up()
    response = system.post("/pairing/pairs", {"form": "teacher-student", "mentor_id": mentor_id,
                                              "mentee_ids": [mentee_id]})
    assert response.status_code == 201, response.text
    pair = response.json()["id"]
    today = system.clock.today.isoformat()

    def meet(kind: str, on: str = today, reason: str | None = None) -> Any:
        body = {"kind": kind, "date": on, "duration_minutes": 45, "format": "online"}
        if reason:
            body["missing_feedback_reason"] = reason
        return system.post(f"/pairing/pairs/{pair}/meetings", body)

    assert error(meet("trial")) == (409, "MEETING_OUT_OF_ORDER")
    tomorrow = (system.clock.today + timedelta(days=1)).isoformat()
    assert error(meet("intro", tomorrow)) == (422, "MEETING_IN_FUTURE")
    assert meet("intro").json() == {"number": 1}
    assert error(meet("planning")) == (409, "MEETING_OUT_OF_ORDER")
    goal = system.post(f"/pairing/pairs/{pair}/goals",
                       {"title": "Подготовиться к муниципальному этапу олимпиады",
                        "due": "2026-01-15"})
    assert goal.status_code == 201, goal.text

    # Feedback on the intro: neither side sees the other's before giving their own.
    as_mentor, as_mentee = system.as_participant(mentor_id), system.as_participant(mentee_id)
    feedback_url = f"/pairing/pairs/{pair}/meetings/1/feedback"
    answer = system.post(f"/pairing/pairs/{pair}/feedback",
                         {"meeting_number": 1, "satisfaction": 9, "went_well": FREE_TEXT[0],
                          "to_change": FREE_TEXT[1]}, headers=as_mentor)
    assert answer.json() == {"side": "mentor"}, answer.text
    assert system.get(feedback_url, headers=as_mentee).json() == []
    mine = system.get(feedback_url, headers=as_mentor).json()
    assert [(f["side"], f["went_well"]) for f in mine] == [("mentor", FREE_TEXT[0])]
    assert system.post(f"/pairing/pairs/{pair}/feedback", {"meeting_number": 1, "satisfaction": 7},
                       headers=as_mentee).json() == {"side": "mentee"}
    for viewer in (as_mentee, as_mentor):
        assert {f["side"] for f in system.get(feedback_url, headers=viewer).json()} == {
            "mentor", "mentee"}
    again = system.post(f"/pairing/pairs/{pair}/feedback", {"meeting_number": 1, "satisfaction": 5},
                        headers=as_mentee)
    assert error(again) == (409, "FEEDBACK_ALREADY_SUBMITTED")
    outsider = system.as_participant(system.mentee())
    assert error(system.get(feedback_url, headers=outsider)) == (404, "PAIR_NOT_FOUND")
    impostor = system.post(f"/pairing/pairs/{pair}/feedback", {"meeting_number": 1,
                                                               "satisfaction": 1}, headers=outsider)
    assert error(impostor) == (404, "PAIR_NOT_FOUND")
    assert system.get(f"/pairing/pairs/{pair}", headers=as_mentee).json()["id"] == pair
    bad = system.post(f"/pairing/pairs/{pair}/feedback", {"meeting_number": 1, "satisfaction": 11,
                                                          "respondent_id": mentee_id})
    assert error(bad) == (422, "VALIDATION_ERROR")

    # Reminders: a pair idle longer than the configured period is flagged for the curator.
    assert system.get("/pairing/reminders").json() == []
    system.clock.today += timedelta(days=31)
    flagged = system.get("/pairing/reminders").json()
    assert [(p["id"], p["idle_days"], p["code"]) for p in flagged] == [(pair, 31, "NO_MEETINGS")]
    assert system.get("/pairing/reminders", days=40).json() == []
    later = system.clock.today.isoformat()

    assert error(system.post(f"/pairing/pairs/{pair}/complete")) == (409, "FINAL_MEETING_REQUIRED")
    assert meet("trial", later).status_code == 201  # both sides answered about the intro
    # Nobody answered about the trial: the next meeting waits for feedback or a reason.
    refused = meet("planning", later)
    assert error(refused) == (409, "FEEDBACK_MISSING")
    assert "встрече № 2 от наставника и наставляемого" in refused.json()["message"]
    reason = CURATOR_TEXT[-1]
    for kind in ("planning", "regular", "regular"):
        assert meet(kind, later, reason).status_code == 201
    assert error(meet("intro", later)) == (409, "MEETING_OUT_OF_ORDER")
    assert error(meet("regular", today)) == (422, "MEETING_BEFORE_PREVIOUS")
    assert meet("final", later, reason).json() == {"number": 6}
    assert error(meet("regular", later)) == (409, "MEETING_OUT_OF_ORDER")
    # A month after the final meeting the pair is not idle: it waits to be completed.
    system.clock.today += timedelta(days=31)
    assert [(p["id"], p["code"]) for p in system.get("/pairing/reminders").json()] == [
        (pair, "FINAL_HELD")]
    assert system.post(f"/pairing/pairs/{pair}/complete").status_code == 204
    assert system.get("/pairing/reminders").json() == []
    assert error(meet("regular", later)) == (409, "PAIR_CLOSED")
    assert error(system.post(f"/pairing/pairs/{pair}/dissolve", {"reason": "переезд"})) == (
        409, "PAIR_CLOSED")
    details = system.get(f"/pairing/pairs/{pair}").json()
    assert details["status"] == "completed" and len(details["meetings"]) == 6
    assert [m["missing_feedback_reason"] for m in details["meetings"]] == [
        None, reason, reason, reason, reason, None]
    assert details["meetings"][0]["feedback_from"] == ["mentee", "mentor"]
    assert details["goals"][0]["due"] == "2026-01-15"

    events = system.published()
    kinds = [e.payload["kind"] for e in events if e.type == "MeetingHeld"]
    assert kinds == ["intro", "trial", "planning", "regular", "regular", "final"]
    feedback = [e.payload for e in events if e.type == "FeedbackSubmitted"]
    assert feedback == [
        {"meeting_number": 1, "side": "mentor", "satisfaction": 9, "respondent_id": mentor_id},
        {"meeting_number": 1, "side": "mentee", "satisfaction": 7, "respondent_id": mentee_id}]
    assert [e.payload for e in events if e.type == "PairCompleted"] == [{"meetings": 6}]
    assert_no_personal_data(events)


def test_dissolution_returns_mentees_and_withdrawn_consent_dissolves_the_pair(
        system: System) -> None:
    mentor_id = system.mentor(capacity=2)
    first, second = system.mentee(), system.mentee()
    programme = system.programme()
    system.pools_caught_up()
    pair = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor_id,
                                          "mentee_ids": [first, second]}).json()["id"]
    assert not pool_ids(system)[first]["in_pool"]
    dissolved = system.post(f"/pairing/pairs/{pair}/dissolve", {"reason": "Смена расписания"})
    assert dissolved.json() == {"returned_mentee_ids": [first, second]}
    pool = pool_ids(system)
    assert pool[first]["in_pool"] and pool[second]["in_pool"] and pool[mentor_id]["load"] == 0
    suggestion = system.get("/pairing/suggestions", programme_id=programme).json()
    assert sorted(suggestion["groups"][0]["mentee_ids"]) == sorted([first, second])

    again = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor_id,
                                           "mentee_ids": [first, second]}).json()["id"]
    system.withdraw(first)
    wait_until(lambda: system.get(f"/pairing/pairs/{again}").json()["status"] == "dissolved",
               message="the pair to dissolve after the consent was withdrawn")
    withdrawal = next(e for e in system.bus("registry") if e.type == "ConsentWithdrawn")
    events = system.published()
    ended = [e for e in events if e.type == "PairDissolved" and str(e.aggregate_id) == again]
    assert len(ended) == 1
    assert ended[0].causation_id == withdrawal.event_id
    assert ended[0].correlation_id == withdrawal.correlation_id
    assert ended[0].actor.role == Role.SYSTEM
    assert ended[0].payload["returned_mentee_ids"] == [second]
    assert_no_personal_data(events + system.bus("registry"))
    pool = pool_ids(system)
    assert pool[second]["in_pool"] and pool[first]["withdrawn"] and not pool[first]["in_pool"]
    assert_no_personal_data(events)

    # The mentor's withdrawal ends their pair too, and the mentee goes back to the pool.
    other_mentor = system.mentor()
    system.pools_caught_up()
    third = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": other_mentor,
                                           "mentee_ids": [second]}).json()["id"]
    system.withdraw(other_mentor)
    wait_until(lambda: system.get(f"/pairing/pairs/{third}").json()["status"] == "dissolved",
               message="the pair to dissolve after the mentor withdrew consent")
    assert system.get(f"/pairing/pairs/{third}").json()["returned_mentee_ids"] == [second]
    assert pool_ids(system)[second]["in_pool"]


def test_two_replicas_never_give_one_mentor_more_pupils_than_places(system: System) -> None:
    """Two pairing services over one store (replicas) form pairs for one free place at once."""
    mentor = system.mentor(capacity=1)
    first, second = system.mentee(), system.mentee()
    system.pools_caught_up()
    replica = PairingService(system.settings, today=system.clock)
    checked = {name: threading.Event() for name in ("one", "two")}

    def pausing(service: PairingService, name: str, other: str) -> None:
        save = service._save

        def checked_then_save(*aggregates: Any) -> None:
            # Every rule has passed: give the other replica a second to pass them too. With the
            # replicas excluding each other it cannot, and this wait runs out unanswered.
            checked[name].set()
            checked[other].wait(timeout=1.0)
            save(*aggregates)

        service._save = checked_then_save  # type: ignore[method-assign]

    services = {"one": system.pairing.service, "two": replica}
    pausing(services["one"], "one", "two")
    pausing(services["two"], "two", "one")
    outcomes: dict[str, str] = {}

    def form(name: str, mentee: str) -> None:
        ctx = CommandContext(Actor(user="curator", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)))
        try:
            services[name].form_pair(ctx, FormPair(form="учитель – ученик", mentor_id=mentor,
                                                   mentee_ids=[mentee]))
            outcomes[name] = "formed"
        except DomainError as exc:
            outcomes[name] = exc.code

    try:
        threads = [threading.Thread(target=form, args=("one", first))]
        threads[0].start()
        assert checked["one"].wait(timeout=20)
        threads.append(threading.Thread(target=form, args=("two", second)))
        threads[1].start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        replica.close()
    assert outcomes == {"one": "formed", "two": "NO_CAPACITY"}
    formed = [e for e in system.published() if e.type == "PairFormed"]
    assert [e.payload["mentee_ids"] for e in formed] == [[first]]


def test_a_pupil_mentor_in_a_higher_grade_may_be_born_the_same_year(system: System) -> None:
    """Seniority between pupils is by grade when both grades are known, else by birth year."""
    senior = system.mentor(category="student", birth="2012-01-10", grade=8,
                           competencies=("олимпиада",))
    same_grade = system.mentor(category="student", birth="2012-02-10", grade=7)
    mentee = system.mentee(grade=7, birth="2012-11-01")
    system.pools_caught_up()
    suggestion = system.get("/pairing/suggestions", municipality_id=system.org["m1"],
                            form="ученик – ученик", scope="demo/m1", role=Role.MUNICIPAL).json()
    groups = {g["mentor_id"]: g for g in suggestion["groups"]}
    assert groups[senior]["mentee_ids"] == [mentee] and same_grade not in groups
    criteria = {c["code"] for c in groups[senior]["assignments"][0]["criteria"]}
    assert "GRADE_GAP" in criteria
    refused = system.post("/pairing/pairs", {"form": "ученик – ученик", "mentor_id": same_grade,
                                             "mentee_ids": [mentee]})
    assert error(refused) == (422, "MENTOR_NOT_SENIOR")
    registered = next(e for e in system.bus("registry")
                      if e.type == "MentorRegistered" and str(e.aggregate_id) == senior)
    assert registered.payload["grade"] == 8 and registered.schema_version == 2
