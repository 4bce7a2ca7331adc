"""A deterministic synthetic region, loaded through the public API like any other client.

``plan_region`` draws the region from a seed and a scale; ``load_region`` registers it through
the HTTP API (organisations one by one, people as one CSV import per organisation), and
``load_demo`` adds a school year of activity (``services.demo_activity``). Names come from lists
of common Russian names: plausible, and belonging to nobody. ``demo_command`` is ``nastavnik demo``.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer

from services.bootstrap import NotRunning, read_run_info, run_embedded, settings_for
from services.demo_activity import ActivityLoader, Api, Clients, School, school_year_label
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.localtime import local_today

LAST_NAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
              "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев",
              "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев",
              "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев",
              "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев",
              "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов"]
MALE_FIRST = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья",
              "Кирилл", "Михаил", "Никита", "Матвей", "Роман", "Егор", "Иван", "Тимофей", "Лев",
              "Марк", "Фёдор", "Даниил", "Павел", "Глеб", "Степан", "Ярослав"]
FEMALE_FIRST = ["Анна", "Мария", "Елена", "Дарья", "Анастасия", "Екатерина", "Полина", "Ольга",
                "Татьяна", "Наталья", "Виктория", "Ксения", "Алиса", "София", "Вероника", "Юлия",
                "Варвара", "Ева", "Василиса", "Милана", "Арина", "Ульяна", "Кира", "Таисия"]
PATRONYMIC_ROOTS = ["Александров", "Дмитриев", "Сергеев", "Андреев", "Алексеев", "Михайлов",
                    "Иванов", "Николаев", "Петров", "Викторов", "Олегов", "Юрьев", "Павлов",
                    "Романов", "Максимов", "Игорев", "Денисов", "Антонов"]
REQUESTS = ["адаптация", "олимпиада", "профориентация", "проект", "учебная мотивация",
            "лидерство", "наука"]
COMPETENCIES = REQUESTS + ["методика", "ИКТ", "спорт", "творчество"]
MUNICIPALITY_NAMES = [("m-berezovsky", "Берёзовский муниципальный округ"),
                      ("m-ozersk", "Озёрский городской округ"),
                      ("m-sosnovka", "Сосновский муниципальный район")]
FORM = "student-student"
DEMO_SEED = 2025
DEFAULT_DATA_DIR = Path("var")
NAME_SPACE = len(LAST_NAMES) * (len(MALE_FIRST) + len(FEMALE_FIRST)) * len(PATRONYMIC_ROOTS)
Scale = Literal["small", "municipality", "region"]

#: (municipalities, schools per municipality, people per school)
SCALES: dict[str, tuple[int, int, int]] = {
    "small": (3, 3, 20),
    "municipality": (1, 40, 500),
    "region": (60, 33, 250),
}


@dataclass
class PlannedOrganisation:
    code: str
    name: str
    kind: str
    contingent: dict[str, int] | None = None
    mentors: list[dict[str, str]] = field(default_factory=list)
    mentees: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PlannedMunicipality:
    code: str
    name: str
    organisations: list[PlannedOrganisation]


@dataclass
class RegionPlan:
    code: str
    name: str
    municipalities: list[PlannedMunicipality]
    #: the last finished school year: programmes belong to it and its activity is dated in it
    school_year: str = ""
    today: date = field(default_factory=local_today)

    @property
    def people(self) -> int:
        return sum(len(o.mentors) + len(o.mentees)
                   for m in self.municipalities for o in m.organisations)


class NameDrawer:
    """Draws names and birth dates, never the same pair twice within one organisation."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today

    def name(self) -> str:
        rng = self.rng
        last = rng.choice(LAST_NAMES)
        if rng.random() < 0.55:
            # every surname on the list takes -а in the feminine
            return f"{last}а {rng.choice(FEMALE_FIRST)} {rng.choice(PATRONYMIC_ROOTS)}на"
        return f"{last} {rng.choice(MALE_FIRST)} {rng.choice(PATRONYMIC_ROOTS)}ич"

    def birth_date(self, age: int) -> date:
        return date(self.today.year - age - 1, self.rng.randint(1, 12), self.rng.randint(1, 28))

    def unique(self, taken: Taken, age: int) -> tuple[str, date]:
        """A name nobody in the organisation has; once half of all names are taken (only a
        benchmark's giant school gets there), a name and birth date nobody has."""
        while True:
            drawn = (self.name(), self.birth_date(age))
            if drawn[0] not in taken.names or (len(taken.names) > NAME_SPACE // 2
                                               and drawn not in taken.people):
                taken.names.add(drawn[0])
                taken.people.add(drawn)
                return drawn


@dataclass
class Taken:
    """Who an organisation already has."""

    names: set[str] = field(default_factory=set)
    people: set[tuple[str, date]] = field(default_factory=set)


def plan_school(code: str, number: int, people: int, draw: NameDrawer) -> PlannedOrganisation:
    rng = draw.rng
    total = rng.randint(max(people * 2, 400), max(people * 4, 1200))
    school = PlannedOrganisation(
        code=code, name=f"МБОУ «Средняя общеобразовательная школа № {number}»", kind="school",
        contingent={"students_total": total, "students_10_19": int(total * 0.6),
                    "students_15_19": int(total * 0.2), "teachers_total": rng.randint(30, 80),
                    "young_teachers": rng.randint(3, 10), "enterprises": 0})
    taken = Taken()
    for i in range(people):
        if i < people // 3:
            teacher = i % 2 == 0
            name, born = draw.unique(taken, rng.randint(30, 55) if teacher else rng.randint(15, 17))
            school.mentors.append({
                "ФИО": name, "Дата рождения": born.strftime("%d.%m.%Y"),
                "Категория": "педагог" if teacher else "обучающийся",
                "Класс": "" if teacher else str(rng.randint(9, 11)),
                "Компетенции": "; ".join(rng.sample(COMPETENCIES, 3)),
                "Кол-во наставляемых": str(rng.randint(1, 3)),
                "ФИО законного представителя": "" if teacher else draw.name(),
                "Согласие на обработку ПД": "да",
                "Согласие законного представителя": "" if teacher else "да"})
        else:
            grade = rng.randint(5, 9)
            name, born = draw.unique(taken, grade + 6)
            school.mentees.append({
                "ФИО": name, "Дата рождения": born.strftime("%d.%m.%Y"),
                "Категория": "обучающийся", "Класс": str(grade),
                "Запросы": "; ".join(rng.sample(REQUESTS, 2)),
                "ФИО законного представителя": draw.name(),
                "Согласие на обработку ПД": "да", "Согласие законного представителя": "да"})
    return school


def plan_region(seed: int = DEMO_SEED, scale: Scale = "small", today: date | None = None,
                municipalities: int | None = None, schools: int | None = None,
                people: int | None = None, region_code: str = "demo") -> RegionPlan:
    """Deterministic for a seed: the same call plans the same region, name for name."""
    preset = SCALES[scale]
    n_municipalities, n_schools, n_people = (municipalities or preset[0], schools or preset[1],
                                             people or preset[2])
    today = today or local_today()
    draw = NameDrawer(random.Random(seed), today)
    planned = []
    for m in range(n_municipalities):
        code, name = (MUNICIPALITY_NAMES[m] if m < len(MUNICIPALITY_NAMES)
                      else (f"m-{m + 1:03d}", f"Муниципальный округ № {m + 1}"))
        organisations = [plan_school(f"school-{n}", n, n_people, draw) for n in range(1, n_schools + 1)]
        organisations.append(PlannedOrganisation(code="employer-1", kind="employer",
                                                 name="АО «Завод точной механики»"))
        planned.append(PlannedMunicipality(code, name, organisations))
    return RegionPlan(region_code, "Демонстрационная область", planned, school_year_label(today), today)


@dataclass(frozen=True)
class PlannedGroup:
    """A mentor with the mentees the school's curator puts with them, by keys in the plan."""

    school: str  # the programme's school code
    mentor: str
    mentees: tuple[str, ...]


def plan_groups(municipality: PlannedMunicipality) -> list[PlannedGroup]:
    """The pairs and groups of a municipality's student–student programmes, decided by the plan.

    Each school's curator first gives each mentee one of the school's own pupil-mentors with a
    free place; then mentees still without one get a free mentor from another school of the
    municipality. A mentor is always in a higher grade (the pairing refuses any other), and
    the one sharing most of the mentee's requests is preferred. Chosen here rather than taken
    from the pairing's suggestions so that the same seed gives the same pairs (the suggestions
    break ties between equal candidates by the registry's random ids).
    """
    def grade(row: dict[str, str]) -> int:
        # every demo pupil has a grade, and the pairing then compares grades, not ages
        return int(row["Класс"])

    mentors = {org.code: [(i, row, set(row["Компетенции"].split("; "))) for i, row in enumerate(org.mentors)
                          if row["Категория"] == "обучающийся"] for org in municipality.organisations}
    free = {(code, i): int(row["Кол-во наставляемых"])
            for code, rows in mentors.items() for i, row, _ in rows}
    groups: dict[tuple[str, str, int], list[str]] = {}
    waiting: list[tuple[PlannedOrganisation, int]] = []

    def place(org: PlannedOrganisation, j: int, codes: list[str]) -> bool:
        mentee = org.mentees[j]
        requests = set(mentee["Запросы"].split("; "))
        candidates = [(-len(requests & competencies), code != org.code, code, i)
                      for code in codes for i, row, competencies in mentors[code]
                      if free[(code, i)] > 0 and grade(row) > grade(mentee)]
        if not candidates:
            return False
        _, _, code, i = min(candidates)
        free[(code, i)] -= 1
        groups.setdefault((org.code, code, i), []).append(person_key(municipality, org, "mentee", j))
        return True

    for org in municipality.organisations:
        waiting += [(org, j) for j in range(len(org.mentees)) if not place(org, j, [org.code])]
    for org, j in waiting:
        open_codes = [code for code, rows in mentors.items() if any(free[(code, i)] for i, _, _ in rows)]
        if not open_codes:
            break
        place(org, j, open_codes)
    by_code = {org.code: org for org in municipality.organisations}
    return [PlannedGroup(school, person_key(municipality, by_code[code], "mentor", i), tuple(mentees))
            for (school, code, i), mentees in groups.items()]


def person_key(municipality: PlannedMunicipality, org: PlannedOrganisation, role: str, index: int) -> str:
    """A person's stable place in the plan: the same on every run, whatever ids the registry gives."""
    return f"{municipality.code}/{org.code}/{role}/{index}"


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")



def token_issuer(settings: Any) -> Callable[[str], str]:
    """Tokens of the people who would do the work: the region's operator, a municipality's
    specialist, a school's curator — by the path they work at."""
    def token_for(path: str) -> str:
        scope = OrgPath.parse(path)
        if scope.organisation:
            actor = Actor(user=f"curator-{scope.municipality}-{scope.organisation}", role=Role.CURATOR,
                          scope=scope)
        else:
            actor = Actor(user="demo-loader", role=Role.MUNICIPAL if scope.municipality else Role.REGIONAL,
                          scope=scope)
        return issue_token(actor, settings.signing_secret)

    return token_for


def region_loaded(client: httpx.Client) -> bool:
    existing = client.get("/registry/organisations").raise_for_status().json()
    return any(o["kind"] == "municipality" for o in existing)


def register_region(clients: Clients, plan: RegionPlan,
                    progress: Callable[[str], None] | None = None) -> tuple[Counter[str], list[School]]:
    """Organisations, contingents, programmes and people; returns the counts and the schools.

    The region's operator registers the municipalities; each municipality's specialist its
    organisations and their people.
    """
    counts: Counter[str] = Counter()
    schools: list[School] = []
    client = clients(plan.code)

    def post(url: str, body: dict[str, Any]) -> str:
        return str(client.post(url, json=body).raise_for_status().json()["id"])

    region_id = post("/registry/organisations", {"code": plan.code, "kind": "region", "name": plan.name})
    counts["organisations"] += 1
    for done, municipality in enumerate(plan.municipalities, start=1):
        client = clients(plan.code)
        m_id = post("/registry/organisations", {"code": municipality.code, "name": municipality.name,
                                                "kind": "municipality", "parent_id": region_id})
        counts["organisations"] += 1
        client = clients(f"{plan.code}/{municipality.code}")
        for org in municipality.organisations:
            org_id = post("/registry/organisations", {"code": org.code, "name": org.name,
                                                      "kind": org.kind, "parent_id": m_id})
            counts["organisations"] += 1
            if not org.contingent:
                continue
            client.put(f"/registry/organisations/{org_id}/contingent",
                       json={"school_year": plan.school_year, **org.contingent}).raise_for_status()
            programme_id = post("/registry/programmes", {
                "organisation_id": org_id, "form": FORM, "school_year": plan.school_year,
                "curator": f"curator-{municipality.code}-{org.code}"})
            counts["programmes"] += 1
            school = School(f"{plan.code}/{municipality.code}/{org.code}", org_id, programme_id, FORM,
                            len(org.mentors), len(org.mentees))
            for role, rows in (("mentor", org.mentors), ("mentee", org.mentees)):
                if rows:
                    response = client.post(f"/registry/organisations/{org_id}/import", params={"role": role},
                                           files={"file": (f"{role}s.csv", to_csv(rows))})
                    ids = response.raise_for_status().json()["ids"]
                    counts["people"] += len(ids)
                    school.keys.update({person_id: person_key(municipality, org, role, i)
                                        for i, person_id in enumerate(ids)})
            schools.append(school)
        attach_groups(municipality, schools)
        if progress:
            progress(f"  реестр: муниципалитетов {done}/{len(plan.municipalities)}, "
                     f"людей {counts['people']}")
    return counts, schools


def find_schools(clients: Clients, plan: RegionPlan) -> list[School]:
    """The schools of a region registered earlier (its activity not yet loaded), by the plan.

    People are matched to the plan by name and birth year through the registry, the one place
    that holds names.
    """
    client = clients(plan.code)
    by_path = {o["path"]: o for o in client.get("/registry/organisations").raise_for_status().json()}
    schools = []
    for municipality in plan.municipalities:
        for org in municipality.organisations:
            path = f"{plan.code}/{municipality.code}/{org.code}"
            found = by_path.get(path)
            if not org.contingent or found is None:
                continue
            programmes = client.get(f"/registry/organisations/{found['id']}/programmes").raise_for_status()
            programme = next((p for p in programmes.json() if p["form"] == FORM), None)
            if programme is None:
                continue
            school = School(path, found["id"], programme["id"], FORM, len(org.mentors), len(org.mentees))
            wanted: dict[tuple[str, str, int], list[str]] = {}
            for role, rows in (("mentor", org.mentors), ("mentee", org.mentees)):
                for i, row in enumerate(rows):
                    born = int(row["Дата рождения"][-4:])
                    wanted.setdefault((role, row["ФИО"], born), []).append(
                        person_key(municipality, org, role, i))
            # The school's own curator: above the school children are labels (152-ФЗ, ст. 5).
            people = clients(path).get(f"/registry/organisations/{found['id']}/people") \
                .raise_for_status().json()
            for person in sorted(people, key=lambda p: p["id"]):
                keys = wanted.get((person["role"], person["full_name"] or "", person["birth_year"]))
                if keys:
                    school.keys[person["id"]] = keys.pop(0)
            schools.append(school)
        attach_groups(municipality, schools)
    return schools


def attach_groups(municipality: PlannedMunicipality, schools: list[School]) -> None:
    by_path = {school.path.rsplit("/", 1)[1]: school for school in schools
               if school.path.split("/")[1] == municipality.code}
    for group in plan_groups(municipality):
        if group.school in by_path:
            by_path[group.school].groups.append((group.mentor, group.mentees))


def load_region(api: Api, token_for: Callable[[str], str], plan: RegionPlan) -> dict[str, int]:
    """Register the region through the API (no activity). Returns how many of each thing it made."""
    return load_demo(api, token_for, plan, seed=0, activity=False)


def load_demo(api: Api, token_for: Callable[[str], str], plan: RegionPlan, seed: int,
              activity: bool = True, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """The region and (unless told otherwise) its school year; each part only if not there yet:
    the region is deterministic, so loading it twice adds nothing."""
    clients = Clients(api, token_for)
    try:
        counts: Counter[str] = Counter()
        schools: list[School] | None = None
        if not region_loaded(clients(plan.code)):
            counts, schools = register_region(clients, plan, progress)
        if activity and not clients(plan.code).get("/pairing/pairs").raise_for_status().json():
            if schools is None:
                schools = find_schools(clients, plan)
            loader = ActivityLoader(clients, plan.code, seed, plan.today, progress)
            counts.update(loader.play(schools))
        return dict(counts)
    finally:
        clients.close()


KIND_NAMES = {"organisations": "организаций", "programmes": "программ", "people": "участников",
              "pairs": "пар и групп", "meetings": "встреч", "goals": "целей", "feedback": "отзывов",
              "completed": "завершено пар", "dissolved": "расформировано пар", "surveys": "анкет"}


def describe_counts(counts: dict[str, int]) -> str:
    if not counts:
        return "уже загружен — ничего не добавлено"
    return ", ".join(f"{name}: {counts[k]}" for k, name in KIND_NAMES.items() if k in counts)


def run_demo(api: str, settings: Any, plan: RegionPlan, seed: int, activity: bool,
             echo: Callable[[str], None], show_progress: bool) -> dict[str, int]:
    started = time.perf_counter()
    counts = load_demo(api, token_issuer(settings), plan, seed, activity, echo if show_progress else None)
    echo(f"Демо-регион: {describe_counts(counts)} — за {time.perf_counter() - started:.1f} с")
    return counts


def demo_command(
        scale: Annotated[str, typer.Option(help="small | municipality | region")] = "small",
        seed: Annotated[int, typer.Option(help="Зерно генератора: то же зерно — тот же регион")] = DEMO_SEED,
        municipalities: Annotated[int | None, typer.Option(min=1, help="Муниципалитетов")] = None,
        schools: Annotated[int | None, typer.Option(min=1, help="Школ в муниципалитете")] = None,
        people: Annotated[int | None, typer.Option(min=3, help="Участников в школе")] = None,
        data_dir: Annotated[Path, typer.Option("--data-dir", envvar="NASTAVNIK_DATA_DIR",
                                                help="Папка данных")] = DEFAULT_DATA_DIR,
        year_of_activity: Annotated[bool, typer.Option(
            "--year-of-activity/--no-year-of-activity", help="Пары, встречи, отзывы и анкеты за год")] = True,
        start: Annotated[bool, typer.Option("--start", help="Запустить систему и загрузить в неё")] = False,
        port: Annotated[int, typer.Option(help="Порт API при --start (0 — любой свободный)")] = 0) -> None:
    """Загрузить демонстрационный регион (детерминированный от зерна) в работающую систему."""
    if scale not in SCALES:
        raise typer.BadParameter("масштаб: small | municipality | region")
    settings = settings_for(data_dir)
    plan = plan_region(seed, scale, municipalities=municipalities,  # type: ignore[arg-type]
                       schools=schools, people=people, region_code=settings.region)
    typer.echo(f"План: муниципалитетов {len(plan.municipalities)}, участников {plan.people}, "
               f"учебный год {plan.school_year}, зерно {seed}")
    show_progress = plan.people > 500
    if start:
        start_with_demo(data_dir, port, lambda api, s: run_demo(api, s, plan, seed, year_of_activity,
                                                                 typer.echo, show_progress))
        return
    try:
        api = read_run_info(data_dir)["api"]
    except NotRunning as exc:
        raise typer.BadParameter(str(exc)) from exc
    run_demo(api, settings, plan, seed, year_of_activity, typer.echo,
             show_progress)


def start_with_demo(data_dir: Path, port: int, load: Callable[[str, Any], Any]) -> None:
    """``nastavnik up`` with the demo loaded once the API answers."""
    settings = settings_for(data_dir, api_port=port)

    def announce(api: str, _nats_url: str) -> None:
        load(api, settings)
        # Printed last, after the demo loaded, so that the address does not scroll away.
        typer.echo(f"API:  {api}  (документация: {api}/docs)")
        typer.echo("Остановить: Ctrl+C")

    run_embedded(settings, announce)
