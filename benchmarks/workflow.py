"""``nastavnik bench-workflow``: the mentoring workflow of issue 24 through the public API of the
embedded system (``nastavnik up``), at 1 and at many clients.

For ``people`` people (600 in the issue): they are registered (half mentors, half mentees), paired
(``people/2`` pairs), given goals (3 a pair) and meetings (2 a pair); then ``people`` accounts
are created and each signs in once. Every step is timed from outside: commands per second, the
latency's p50 and p99, and CPU per command summed over every process of the system (measured
from the step's start until the system is quiet again, so the consumers' share is counted).
Each round works in a school of its own, so every round starts from the same state.
``--accounts-only`` runs the last two steps alone (passwords: creation and sign-in).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import typer

from benchmarks.embedded import embedded
from benchmarks.load import token_for
from benchmarks.measure import current_school_year, mentee_body, people, percentile
from benchmarks.system import SECRET
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.localtime import local_today

REGION = "demo"
MUNICIPALITY = "bench"
FORM = "teacher-student"
STEPS = ("register", "form_pair", "add_goal", "record_meeting", "create_account", "sign_in")
PASSWORD = "Kx7-fjord-Quill-{}-zebra"


def mentor_body(organisation_id: str, row: dict[str, str]) -> dict[str, Any]:
    last, first, middle = row["ФИО"].split()
    return {"organisation_id": organisation_id, "category": "teacher", "consent_given_by": "self",
            "capacity": 1,
            "person": {"last_name": last, "first_name": first, "middle_name": middle,
                       "birth_date": "-".join(reversed(row["Дата рождения"].split(".")))}}


def teachers_and_pupils(seed: int, count: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``count`` teachers to mentor and ``count`` pupils, from the demo generator."""
    size = count * 3
    while True:
        mentors, mentees = people(seed, size)
        teachers = [row for row in mentors if row["Категория"] == "педагог"]
        if len(teachers) >= count and len(mentees) >= count:
            return teachers[:count], mentees[:count]
        size *= 2


class Measured(Protocol):
    """What the workflow drives and measures: the embedded system, or a cluster of replicas
    (``benchmarks.bench_cluster``)."""

    def http(self, headers: dict[str, str]) -> httpx.Client: ...

    def cpu_seconds(self) -> float: ...

    def wait_quiet(self) -> Any: ...


class Workflow:
    """The clients of one system: its region's operator sets the scene, a school's curator does
    the school's work, and the regional administrator creates accounts."""

    def __init__(self, system: Measured) -> None:
        self.system = system
        self.tokens = token_for()
        self.clients: dict[str, httpx.Client] = {}
        self.latencies: list[float] | None = None
        #: Each step's name and its commands' start and end (``time.monotonic``), for whoever
        #: samples the system meanwhile.
        self.windows: list[tuple[str, float, float]] = []
        #: The school each round worked in, by its code.
        self.schools: dict[str, str] = {}
        regional = Actor(user="bench-admin", role=Role.REGIONAL, scope=OrgPath.parse(REGION))
        self.admin = self.client(REGION, issue_token(regional, SECRET))
        self.municipality_id = self._municipality()

    def client(self, path: str, token: str | None = None) -> httpx.Client:
        if path not in self.clients:
            self.clients[path] = self.system.http(
                {"Authorization": f"Bearer {token or self.tokens(path)}"})
        return self.clients[path]

    def _municipality(self) -> str:
        organisations = self.admin.get("/registry/organisations").raise_for_status().json()
        by_code = {o["code"]: o["id"] for o in organisations}
        region_id = by_code.get(REGION) or self._post(self.admin, "/registry/organisations", {
            "code": REGION, "kind": "region", "name": "Регион бенчмарка"})["id"]
        return str(by_code.get(MUNICIPALITY) or self._post(self.admin, "/registry/organisations", {
            "code": MUNICIPALITY, "kind": "municipality", "name": "Округ бенчмарка",
            "parent_id": region_id})["id"])

    def _post(self, client: httpx.Client, url: str, body: dict[str, Any]) -> Any:
        started = time.perf_counter()
        response = client.post(url, json=body)
        if self.latencies is not None:
            self.latencies.append(time.perf_counter() - started)  # list.append: thread-safe
        if response.status_code >= 400:
            raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def school(self, code: str) -> tuple[str, str, httpx.Client]:
        """A new school with its programme: (school id, programme id, its curator's client)."""
        municipal = self.client(f"{REGION}/{MUNICIPALITY}")
        school_id = str(self._post(municipal, "/registry/organisations", {
            "code": code, "kind": "school", "name": f"Школа бенчмарка {code}",
            "parent_id": self.municipality_id})["id"])
        curator = self.client(f"{REGION}/{MUNICIPALITY}/{code}")
        programme_id = str(self._post(curator, "/registry/programmes", {
            "organisation_id": school_id, "form": FORM,
            "school_year": current_school_year(local_today()), "curator": "bench"})["id"])
        return school_id, programme_id, curator

    def step(self, name: str, clients: int, work: Callable[[Any], Any],
             items: Sequence[Any]) -> tuple[dict[str, Any], list[Any]]:
        """``work`` on every item by ``clients`` clients at once; the step's figures. Each
        command (``_post``) is timed on its own: an item may hold several in their order."""
        self.latencies = []
        cpu_before = self.system.cpu_seconds()
        started = time.perf_counter()
        window_start = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(work, items))
        seconds = time.perf_counter() - started
        self.windows.append((name, window_start, time.monotonic()))
        self.system.wait_quiet()
        cpu = self.system.cpu_seconds() - cpu_before
        latencies, self.latencies = self.latencies, None
        count = len(latencies)
        return {"step": name, "clients": clients, "commands": count,
                "per_s": round(count / seconds, 1),
                "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
                "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
                "cpu_ms_per_command": round(1000 * cpu / count, 2)}, results

    def wait_for_pool(self, curator: httpx.Client, school_id: str, mentors: int, mentees: int) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            pool = curator.get(f"/pairing/organisations/{school_id}/pool").raise_for_status().json()
            if len(pool["mentors"]) >= mentors and len(pool["mentees"]) >= mentees:
                return
            time.sleep(0.1)
        raise TimeoutError("the pairing did not learn the bench school's people")

    def round(self, code: str, size: int, clients: int, steps: Sequence[str] = STEPS,
              accounts_only: bool = False) -> list[dict[str, Any]]:
        """The workflow's steps in their order; the later ones of ``STEPS`` left out when
        ``steps`` stops short (each step needs the ones before it)."""
        if accounts_only:
            return self.accounts(code, size, clients)
        school_id, programme_id, curator = self.school(code)
        self.schools[code] = school_id
        half = size // 2
        mentor_rows, mentee_rows = teachers_and_pupils(sum(map(ord, code)), half)
        bodies = [("/registry/mentors", mentor_body(school_id, r)) for r in mentor_rows[:half]] + \
                 [("/registry/mentees", mentee_body(school_id, r)) for r in mentee_rows[:half]]
        if len(bodies) < 2 * half:
            raise RuntimeError("the demo generator gave too few people")
        figures = []
        register, ids = self.step("register", clients,
                                  lambda b: self._post(curator, b[0], b[1])["id"], bodies)
        figures.append(register)
        self.wait_for_pool(curator, school_id, half, half)
        pairs_body = [{"programme_id": programme_id, "mentor_id": m, "mentee_ids": [e]}
                      for m, e in zip(ids[:half], ids[half:], strict=True)]
        formed, pair_answers = self.step("form_pair", clients,
                                         lambda b: self._post(curator, "/pairing/pairs", b), pairs_body)
        figures.append(formed)
        if "add_goal" not in steps:
            return figures
        pair_ids = [str(a["id"]) for a in pair_answers]
        due = (local_today() + timedelta(days=60)).isoformat()
        goals = [(p, n) for p in pair_ids for n in range(3)]
        figures.append(self.step("add_goal", clients, lambda g: self._post(
            curator, f"/pairing/pairs/{g[0]}/goals", {"title": f"Цель {g[1] + 1}", "due": due}),
            goals)[0])
        # A pair's meetings come in their order (an introduction, then a trial); pairs at once.
        figures.append(self.step("record_meeting", clients, lambda p: [self._post(
            curator, f"/pairing/pairs/{p}/meetings", {
                "kind": kind, "date": local_today().isoformat(), "duration_minutes": 45,
                "missing_feedback_reason": "Отзывы обсудили устно"}) for kind in ("intro", "trial")],
            pair_ids)[0])
        if "create_account" not in steps:
            return figures
        return figures + self.accounts(code, size, clients)

    def accounts(self, code: str, size: int, clients: int) -> list[dict[str, Any]]:
        """``size`` curator accounts of the school ``code`` created, then each signs in once."""
        figures = []
        logins = [f"{code}-{i}" for i in range(size)]
        scope = f"{REGION}/{MUNICIPALITY}/{code}"
        figures.append(self.step("create_account", clients, lambda login: self._post(
            self.admin, "/auth/accounts", {"login": login, "password": PASSWORD.format(login),
                                           "role": "curator", "scope": scope}), logins)[0])
        anonymous = self.system.http({})
        try:
            figures.append(self.step("sign_in", clients, lambda login: self._post(
                anonymous, "/auth/login", {"login": login, "password": PASSWORD.format(login)}),
                logins)[0])
        finally:
            anonymous.close()
        return figures

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def run(people_count: int, client_counts: Sequence[int], demo: bool = False, idle_seconds: float = 30.0,
        progress: Callable[[str], None] = print, only: Sequence[str] = STEPS,
        accounts_only: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as workdir, \
            embedded(Path(workdir), demo=demo) as system:
        system.wait_quiet()
        started_memory = system.memory_mb()
        idle = system.idle_cpu_by_process(idle_seconds) if idle_seconds > 0 else None
        workflow = Workflow(system)
        steps: list[dict[str, Any]] = []
        try:
            for n, clients in enumerate(client_counts):
                progress(f"раунд {n + 1}: {clients} клиентов, {people_count} человек")
                steps.extend(workflow.round(f"wf{n}-{clients}", people_count, clients, only,
                                            accounts_only))
        finally:
            workflow.close()
        return {"people": people_count, "demo": demo, "memory_after_start_mb": round(started_memory, 1),
                "idle_cpu_percent": None if idle is None else round(sum(idle.values()), 2),
                "idle_cpu_by_process": None if idle is None else {
                    name: round(share, 2) for name, share in idle.items()},
                "peak_memory_mb": round(max(system.peak_memory_mb, system.memory_mb()), 1), "steps": steps}


def report(result: dict[str, Any]) -> str:
    lines = [f"Встроенная система, {result['people']} человек"
             f"{' + демонстрационный регион' if result['demo'] else ''}",
             f"{'шаг':<16}{'клиенты':>8}{'команд':>8}{'команд/с':>10}{'p50, мс':>10}{'p99, мс':>10}"
             f"{'ЦП/команду, мс':>16}"]
    for s in result["steps"]:
        lines.append(f"{s['step']:<16}{s['clients']:>8}{s['commands']:>8}{s['per_s']:>10}"
                     f"{s['p50_ms']:>10}{s['p99_ms']:>10}{s['cpu_ms_per_command']:>16}")
    lines.append(f"память (PSS, сумма процессов): после запуска {result['memory_after_start_mb']} МБ, "
                 f"пик {result['peak_memory_mb']} МБ")
    if result["idle_cpu_percent"] is not None:
        shares = ", ".join(f"{name} {share} %" for name, share in result["idle_cpu_by_process"].items())
        lines.append(f"простой: {result['idle_cpu_percent']} % одного ядра ({shares})")
    return "\n".join(lines)


def workflow_command(
        people_count: Annotated[int, typer.Option("--people")] = 600,
        clients: Annotated[str, typer.Option(
            help="Клиентов в раундах, через запятую (пусто: только запуск, память и простой)")] = "1,16",
        demo: Annotated[bool, typer.Option(help="С демонстрационным регионом")] = False,
        idle_seconds: Annotated[float, typer.Option(help="Сколько секунд мерить простой")] = 30.0,
        accounts_only: Annotated[bool, typer.Option(
            "--accounts-only", help="Только создание учётных записей и вход (без людей и пар)")] = False,
        json_file: Annotated[Path | None, typer.Option("--json", help="Куда записать цифры")] = None,
        until: Annotated[str, typer.Option(
            help="Последний шаг: register, form_pair, add_goal, record_meeting, create_account, "
                 "sign_in (раньше — быстрее, без паролей)")] = "sign_in",
) -> None:
    """Измерить рабочий процесс наставничества через API встроенной системы."""
    counts = [int(c) for c in clients.split(",") if c.strip()]
    if people_count < 2:
        raise typer.BadParameter("нужно хотя бы 2 человека")
    if until not in STEPS:
        raise typer.BadParameter(f"нет шага {until}")
    result = run(people_count, counts, demo, idle_seconds, progress=typer.echo,
                 only=STEPS[:STEPS.index(until) + 1], accounts_only=accounts_only)
    typer.echo(report(result))
    if json_file:
        json_file.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    typer.run(workflow_command)
