"""A school year of a demo region's mentorship: pairs, meetings, feedback, goals, surveys.

``pair_script`` decides, from the seed and a pair's place in the plan only, how that pair's year
goes (no I/O, so it is tested on its own); ``ActivityLoader`` plays the scripts through the
pairing and monitoring APIs like any client would. Every date lies in the last school year that
is already over, so the pairing service accepts each one (nothing is held in the future).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import httpx

#: The school year is over: each pair either held its final meeting or was dissolved on the way,
#: so its mentor and mentees are free again for the current year's pairing.
Fate = Literal["completed", "dissolved"]

GOALS = ["Подготовиться к олимпиаде по математике", "Выбрать профиль обучения",
         "Подготовить и защитить проект", "Освоиться в новом классе",
         "Повысить успеваемость по русскому языку", "Выступить на школьной конференции",
         "Научиться планировать время", "Записаться в кружок робототехники"]
WENT_WELL = ["Разобрали трудные задачи", "Договорились о плане", "Было интересно",
             "Наставник объяснил понятно", "Обсудили выбор профиля", ""]
TO_CHANGE = ["Встречаться чаще", "Больше практики", "Меньше теории", ""]
DISSOLVE_REASONS = ["Наставляемый перешёл в другую школу",
                    "Наставник не может продолжать по состоянию здоровья",
                    "Пара не сложилась: по взаимному решению"]
DURATIONS = (30, 45, 45, 60, 60, 90)
#: Why a side gave no feedback on a meeting: the curator records it before the next meeting.
MISSING_FEEDBACK_REASONS = ["Участник болел, отзыв не получен", "Отзыв не сдан вовремя, "
                            "обсудили устно", "Участник был на соревнованиях"]


def school_year_of(today: date) -> tuple[date, date]:
    """The last school year (1 September – 31 May) that is over by ``today``."""
    end_year = today.year if today > date(today.year, 5, 31) else today.year - 1
    return date(end_year - 1, 9, 1), date(end_year, 5, 31)


def school_year_label(today: date) -> str:
    start, end = school_year_of(today)
    return f"{start.year}-{end.year}"


@dataclass(frozen=True)
class Meeting:
    kind: str
    on: date
    duration_minutes: int
    format: str


@dataclass(frozen=True)
class Feedback:
    meeting_number: int
    member: int  # 0: the mentor, 1…: the mentees in order
    satisfaction: int
    went_well: str
    to_change: str


@dataclass(frozen=True)
class PairScript:
    """How one pair's school year goes, decided before anything is sent."""

    fate: Fate
    meetings: list[Meeting]
    feedback: list[Feedback]
    goals: list[tuple[str, date, str]]  # title, due, final status
    entry: list[int]  # per mentee: the base of their entry growth scores
    exit_gain: list[int]  # per mentee: how much the exit scores rise (completed pairs)
    quality: list[int]  # per member (mentor first): overall quality score (completed pairs)
    dissolve_reason: str | None = None


def _rng(seed: int, *key: object) -> random.Random:
    # a string seed is hashed by SHA-512 whatever PYTHONHASHSEED says: the same on every run
    return random.Random("/".join(str(k) for k in (seed, *key)))


def formation_date(seed: int, key: str, today: date) -> date:
    """When a school's pairs were formed by order: in September of the finished school year."""
    start, _ = school_year_of(today)
    return start + timedelta(days=_rng(seed, key, "formed").randint(4, 25))


def pair_script(seed: int, key: str, size: int, formed_on: date, today: date) -> PairScript:
    """The year of the pair whose mentor is ``key`` (a stable place in the plan), ``size`` mentees."""
    rng = _rng(seed, key)
    _, year_end = school_year_of(today)
    roll = rng.random()
    fate: Fate = "completed" if roll < 0.85 else "dissolved"

    def step(after: date, low: int, high: int) -> date:
        return min(after + timedelta(days=rng.randint(low, high)), year_end)

    day = step(formed_on, 2, 9)
    plan: list[tuple[str, date]] = [("intro", day)]
    for kind in ("trial", "planning"):
        day = step(day, 6, 14)
        plan.append((kind, day))
    regular_until = date(year_end.year, 5, 5)
    n_regular = rng.randint(3, 5)  # about once a month or two, November to April
    gap = max((regular_until - day).days // (n_regular + 1), 7)
    for _ in range(n_regular):
        day = step(day, gap - 4, gap + 4)
        plan.append(("regular", day))
    if fate == "completed":
        plan.append(("final", step(max(day, date(year_end.year, 5, 8)), 2, 20)))
    elif fate == "dissolved":
        plan = plan[:rng.randint(2, 5)]
    meetings = [Meeting(kind, on, 45 if kind in ("intro", "trial") else rng.choice(DURATIONS),
                        "online" if rng.random() < 0.2 else "in_person") for kind, on in plan]

    base = {"completed": (7, 10), "dissolved": (3, 6)}[fate]
    mood = rng.randint(*base)
    feedback = []
    for number in range(1, len(meetings) + 1):
        for member in range(size + 1):
            if rng.random() < (0.85 if member == 0 else 0.7):
                feedback.append(Feedback(number, member, max(1, min(10, mood + rng.randint(-1, 1))),
                                         rng.choice(WENT_WELL), rng.choice(TO_CHANGE)))
    goal_status = "done" if fate == "completed" else "dropped"
    goals = [(title, date(year_end.year, rng.randint(3, 5), rng.randint(1, 28)), goal_status)
             for title in rng.sample(GOALS, rng.randint(1, 2))]
    return PairScript(
        fate=fate, meetings=meetings, feedback=feedback, goals=goals,
        entry=[rng.randint(3, 6) for _ in range(size)],
        exit_gain=[rng.randint(1, 3) for _ in range(size)],
        quality=[max(1, min(10, mood + rng.randint(-1, 1))) for _ in range(size + 1)],
        dissolve_reason=rng.choice(DISSOLVE_REASONS) if fate == "dissolved" else None)


# --- playing the scripts through the API -------------------------------------------------------

@dataclass
class School:
    """A loaded school as the activity needs it: where it is, its programme, its people's keys."""

    path: str
    organisation_id: str
    programme_id: str
    form: str
    mentors: int  # how many mentors and mentees the plan gives it (to know the pool is complete)
    mentees: int
    keys: dict[str, str] = field(default_factory=dict)  # person id -> stable key in the plan
    #: the programme's pairs and groups as the plan decides them: (mentor key, mentee keys)
    groups: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


#: Where the API answers: one address for all services (``nastavnik up``, a gateway), or each
#: service's own, by URL prefix (``{"/registry": "http://127.0.0.1:8001", ...}``).
Api = str | Mapping[str, str]


class PatientTransport(httpx.HTTPTransport):
    """Waits out the API's rate limit (429 with Retry-After) instead of failing the load; with
    ``routes``, sends each request to the process serving its URL prefix, as a gateway would."""

    def __init__(self, routes: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes = {prefix: httpx.URL(url) for prefix, url in (routes or {}).items()}

    def _route(self, request: httpx.Request) -> None:
        prefix = "/" + request.url.path.split("/", 2)[1]
        target = self.routes.get(prefix)
        if target is not None:
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
            request.headers["host"] = request.url.netloc.decode("ascii")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._route(request)
        while True:
            response = super().handle_request(request)
            if response.status_code != 429:
                return response
            response.close()
            time.sleep(min(float(response.headers.get("retry-after", "1")), 60.0))


class Clients:
    """One API client per unit, each with the token of whoever works there: the region's operator,
    a municipality's specialist, a school's curator (who records the school's pairs). Each token
    has its own request budget, as each of those people would."""

    def __init__(self, api: Api, token_for: Callable[[str], str], pool: int = 20) -> None:
        self.api = api
        self.pool = pool
        self.token_for = token_for
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(path)
            if client is None:
                # routed: the base address is a placeholder the transport replaces
                base, routes = (self.api, None) if isinstance(self.api, str) else ("http://api", self.api)
                client = self._clients[path] = httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {self.token_for(path)}"},
                    timeout=300, transport=PatientTransport(
                        routes, limits=httpx.Limits(max_connections=self.pool)))
            return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


class ActivityLoader:
    """Forms the pairs of each school and plays their year; counts what it sent."""

    def __init__(self, clients: Clients, region: str, seed: int, today: date,
                 progress: Callable[[str], None] | None = None) -> None:
        self.clients = clients
        self.client = clients(region)
        self.seed = seed
        self.today = today
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._questionnaires: list[dict[str, Any]] | None = None
        self.keys: dict[str, str] = {}  # person id -> stable key, over the whole region
        self.ids: dict[str, str] = {}  # and back

    def _post(self, school: School, url: str, body: dict[str, Any], kind: str | None = None) -> Any:
        response = self.clients(school.path).post(url, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{url}: {response.status_code} {response.text}")
        if kind:
            with self._lock:
                self.counts[kind] += 1
        return response.json() if response.content else None

    def questionnaire(self, stage: str, role: str, form: str) -> dict[str, Any] | None:
        if self._questionnaires is None:
            self._questionnaires = self.client.get("/monitoring/questionnaires").raise_for_status().json()
        for q in self._questionnaires:
            if q["stage"] == stage and q["respondent_role"] == role and (
                    "*" in q["forms"] or form in q["forms"]):
                return q
        return None

    def survey(self, school: School, stage: str, role: str, score: Callable[[int], int],
               respondent_id: str | None = None, pair_id: str | None = None) -> None:
        questionnaire = self.questionnaire("quality" if stage == "quality" else "growth", role,
                                           school.form)
        if questionnaire is None:
            return
        answers = {q["key"]: max(q.get("scale_min", 1), min(q.get("scale_max", 10), score(i)))
                   for i, q in enumerate(questionnaire["question"])}
        self._post(school, "/monitoring/surveys", {
            "organisation": school.path, "survey": questionnaire["code"], "stage": stage,
            "respondent_role": role, "respondent_id": respondent_id, "pair_id": pair_id,
            "form": school.form, "answers": answers}, "surveys")

    def wait_for_pool(self, school: School, timeout: float = 300.0) -> None:
        """The pairing learns people from registry events: wait until it knows the whole school."""
        deadline = time.monotonic() + timeout
        while True:
            pool = self.clients(school.path).get(f"/pairing/organisations/{school.organisation_id}/pool")
            if pool.status_code == 200:
                body = pool.json()
                if (len(body["mentors"]) >= school.mentors and len(body["mentees"]) >= school.mentees):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"подбор не получил участников {school.path} за {timeout:.0f} с")
            time.sleep(0.1)

    def form_pairs(self, school: School) -> list[tuple[str, str, list[str], date]]:
        """The school's pairs and groups by the curator's order; returns what each pair plays."""
        if not school.groups:
            return []
        ids = self.ids
        groups = [{"mentor_id": ids[mentor], "mentee_ids": [ids[m] for m in mentees]}
                  for mentor, mentees in school.groups]
        formed_on = formation_date(self.seed, school.path, self.today)
        answer = self._post(school, "/pairing/suggestions/confirm", {
            "programme_id": school.programme_id, "groups": groups, "formed_on": formed_on.isoformat(),
            "order_ref": f"Приказ № {len(school.path) % 90 + 10}-н от {formed_on:%d.%m.%Y}"})
        pair_ids = answer["pair_ids"]
        for pair_id in answer.get("proposed_ids", []):
            # A mentor from another school: that school's curator agrees to the pair.
            pair = self.clients(school.path).get(f"/pairing/pairs/{pair_id}").raise_for_status().json()
            confirmed = self.clients(pair["mentor_path"]).post(f"/pairing/pairs/{pair_id}/confirm")
            if confirmed.status_code >= 400:
                raise RuntimeError(f"подтверждение пары: {confirmed.status_code} {confirmed.text}")
        with self._lock:
            self.counts["pairs"] += len(pair_ids)
        return [(pair_id, group["mentor_id"], group["mentee_ids"], formed_on)
                for group, pair_id in zip(groups, pair_ids, strict=True)]

    def curator_survey(self, school: School) -> None:
        if school.groups:
            self.survey(school, "quality", "curator",
                        lambda i: 6 + _rng(self.seed, school.path, "curator", i).randint(0, 4))

    def play_pair(self, school: School, pair_id: str, mentor_id: str, mentee_ids: list[str],
                  formed_on: date) -> None:
        script = pair_script(self.seed, f"{school.path}/{self.keys[mentor_id]}", len(mentee_ids),
                             formed_on, self.today)
        members = [mentor_id, *mentee_ids]
        base = f"/pairing/pairs/{pair_id}"
        for n, mentee_id in enumerate(mentee_ids):
            self.survey(school, "growth_entry", "mentee", lambda i, n=n: script.entry[n] + i % 2,
                        mentee_id, pair_id)
        by_meeting: dict[int, list[Feedback]] = {}
        for answer in script.feedback:
            by_meeting.setdefault(answer.meeting_number, []).append(answer)
        for number, meeting in enumerate(script.meetings, start=1):
            body = {"kind": meeting.kind, "date": meeting.on.isoformat(),
                    "duration_minutes": meeting.duration_minutes, "format": meeting.format}
            answered = {"mentor" if a.member == 0 else "mentee"
                        for a in by_meeting.get(number - 1, [])}
            if number > 1 and len(answered) < 2:  # feedback is mandatory: say why it is missing
                body["missing_feedback_reason"] = MISSING_FEEDBACK_REASONS[
                    number % len(MISSING_FEEDBACK_REASONS)]
            self._post(school, f"{base}/meetings", body, "meetings")
            if meeting.kind == "planning":
                for title, due, status in script.goals:
                    self._post(school, f"{base}/goals", {"title": title, "due": due.isoformat(),
                                                 "status": status}, "goals")
            for answer in by_meeting.get(number, []):
                self._post(school, f"{base}/feedback", {
                    "meeting_number": number, "respondent_id": members[answer.member],
                    "satisfaction": answer.satisfaction, "went_well": answer.went_well,
                    "to_change": answer.to_change}, "feedback")
        if script.fate == "completed":
            self._post(school, f"{base}/complete", {}, "completed")
            for n, mentee_id in enumerate(mentee_ids):
                self.survey(school, "growth_exit", "mentee",
                            lambda i, n=n: script.entry[n] + i % 2 + script.exit_gain[n] - (i % 3 == 2),
                            mentee_id, pair_id)
            for n, member in enumerate(members):
                self.survey(school, "quality", "mentor" if n == 0 else "mentee",
                            lambda i, n=n: script.quality[n] - i % 2, member, pair_id)
        elif script.fate == "dissolved":
            self._post(school, f"{base}/dissolve", {"reason": script.dissolve_reason}, "dissolved")

    def _report(self, done: int, total: int) -> None:
        if self.progress and (done % max(1, total // 20) == 0 or done == total):
            self.progress(f"  год работы: пар {done}/{total}, встреч {self.counts['meetings']}, "
                          f"отзывов {self.counts['feedback']}")

    def play(self, schools: Iterable[School], workers: int = 8) -> Counter[str]:
        """Every school's pairs, then every pair's year, ``workers`` at a time.

        The order between them changes nothing in the figures: the plan decides each group
        (within every mentor's free places, whoever confirms first), and a pair's script
        depends only on the seed and its place in the plan. Only one pair's own meetings keep
        their order. Many clients at once keep every service busy while another works.
        """
        schools = list(schools)
        for school in schools:
            self.keys.update(school.keys)
            self.ids.update({key: person_id for person_id, key in school.keys.items()})
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # the pairing learns people from registry events: wait until it knows every school
            list(pool.map(self.wait_for_pool, schools))
            formed = list(pool.map(self.form_pairs, schools))
            pairs = [(school, *pair) for school, school_pairs in zip(schools, formed, strict=True)
                     for pair in school_pairs]
            done = 0

            def play(item: tuple[School, str, str, list[str], date]) -> None:
                nonlocal done
                self.play_pair(*item)
                with self._lock:
                    done += 1
                    self._report(done, len(pairs))

            list(pool.map(play, pairs))
            list(pool.map(self.curator_survey, schools))
        return self.counts
