"""Heavy uploads cannot stall the system: files are parsed in a bounded worker process.

Issue 18, H1: a 3.7 MB XLSX that passed the zip-bomb check (~95 MB inside) froze every service
for 82 s, a roadmap DOCX took 176 s, a valid 10,000-row CSV stalled everything 5.5 s. Here the
same kinds of file go in while another client measures ``/auth/me``: its p99 stays under
200 ms over every phase, the CSV import and the other services catching up on it included
(the save and the projections take turns off the loop and hold the collector off:
shared/memory.py).
"""

from __future__ import annotations

import gc
import io
import random
import threading
import time
import zipfile
from typing import Any

import pytest

from shared.auth import Role
from tests.security.test_hostile_input import upload_people, upload_roadmap
from tests.security.world import SCHOOL, World, wait_until

INFLATED = 95 * 1024 * 1024
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def inflating_part(archive: zipfile.ZipFile, name: str, head: str, item: str, tail: str) -> None:
    """A part of about ``INFLATED`` bytes that compresses ~30 times: random enough to stay under
    the zip-bomb ratio (so the parser really has to read it), small enough on the wire."""
    rng = random.Random(18)
    filler = "наставник" * 12
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as part:
        part.write((XML + head).encode())
        written = 0
        while written < INFLATED:
            chunk = "".join(item.format(f"{rng.getrandbits(40):010x}{filler}") for _ in range(2000))
            data = chunk.encode()
            part.write(data)
            written += len(data)
        part.write(tail.encode())


def heavy_xlsx() -> bytes:
    """A workbook whose shared strings inflate to ~95 MB and whose sheet names 20,000 of them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats'
            '-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'))
        archive.writestr("xl/workbook.xml", (
            f'{XML}<workbook xmlns="{SHEET_NS}" xmlns:r="{REL_NS}"><sheets>'
            '<sheet name="Наставляемые" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>'))
        rows = "".join(f'<row r="{n}"><c r="A{n}" t="s"><v>{n}</v></c></row>' for n in range(1, 20_001))
        archive.writestr("xl/worksheets/sheet1.xml",
                         f'{XML}<worksheet xmlns="{SHEET_NS}"><sheetData>{rows}</sheetData></worksheet>')
        inflating_part(archive, "xl/sharedStrings.xml", f'<sst xmlns="{SHEET_NS}">',
                       "<si><t>{}</t></si>", "</sst>")
    return buffer.getvalue()


def heavy_docx() -> bytes:
    """A Word package whose document part inflates to ~95 MB of paragraphs."""
    word = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="word/document.xml"/>'
            '</Relationships>'))
        inflating_part(archive, "word/document.xml", f'<w:document xmlns:w="{word}"><w:body>',
                       "<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "</w:body></w:document>")
    return buffer.getvalue()


SURNAMES = ("Абрамов", "Белов", "Воронов", "Гусев", "Дёмин", "Ершов", "Жуков", "Зуев", "Исаев",
            "Карпов", "Лапин", "Мухин", "Носов", "Осипов", "Панов", "Рябов", "Соколов", "Титов",
            "Уваров", "Фомин")
FIRST = ("Артём", "Борис", "Вадим", "Глеб", "Денис", "Егор", "Захар", "Игорь", "Кирилл", "Лев",
         "Марк", "Никита", "Олег", "Павел", "Роман", "Семён", "Тимур", "Фёдор", "Юрий", "Ян")
MIDDLE = ("Андреевич", "Борисович", "Васильевич", "Глебович", "Денисович", "Егорович",
          "Ильич", "Кириллович", "Львович", "Максимович", "Никитич", "Олегович", "Павлович",
          "Романович", "Сергеевич", "Тимурович", "Фёдорович", "Юрьевич", "Яковлевич", "Антонович",
          "Богданович", "Викторович", "Григорьевич", "Давидович", "Евгеньевич")


def big_csv(rows: int = 10_000) -> bytes:
    lines = ["ФИО;Дата рождения;Категория;Класс;ФИО законного представителя;"
             "Согласие на обработку ПД;Согласие законного представителя;Запросы"]
    for n in range(rows):
        surname = SURNAMES[n % 20]
        name = f"{surname} {FIRST[n // 20 % 20]} {MIDDLE[n // 400 % 25]}"
        lines.append(f"{name};0{1 + n % 9}.0{1 + n % 9}.2012;обучающийся;7;"
                     f"{surname}а Мария Ивановна;да;да;олимпиада")
    return "\n".join(lines).encode()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.solo  # a latency figure: measured with the machine to itself
def test_heavy_uploads_leave_other_requests_fast_and_memory_where_it_was(world: World) -> None:
    files = {"xlsx": heavy_xlsx(), "docx": heavy_docx(), "csv": big_csv()}
    sizes = {kind: round(len(data) / 1024 / 1024, 1) for kind, data in files.items()}
    print(f"\nupload sizes, MB: {sizes}")
    assert all(len(data) < 10 * 1024 * 1024 for data in files.values())
    me = world.headers(Role.CURATOR, SCHOOL)
    for _ in range(20):  # warm the route before the baseline
        assert world.client.get("/auth/me", headers=me).status_code == 200
    gc.collect()
    before = rss_mb()
    people = f"/registry/organisations/{world.ids['school']}/people"
    count_before = len(world.client.get(people, headers=me).json())

    latencies: list[float] = []
    phases: list[str] = []
    statuses: list[int] = []
    phase = ["start"]
    stop = threading.Event()

    def measure() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            statuses.append(world.client.get("/auth/me", headers=me).status_code)
            latencies.append(time.perf_counter() - started)
            phases.append(phase[0])
            stop.wait(0.02)  # a steady client, not a flood

    prober = threading.Thread(target=measure)
    prober.start()
    timings: dict[str, float] = {}
    answers: dict[str, Any] = {}
    try:
        for kind, data in files.items():
            started = time.perf_counter()
            phase[0] = kind
            if kind == "docx":
                answers[kind] = upload_roadmap(world, "roadmap.docx", data)
            else:
                answers[kind] = upload_people(world, f"base.{kind}", data)
            timings[kind] = round(time.perf_counter() - started, 1)
        phase[0] = "after"  # the other services catch up on the imported people meanwhile
        wait_until(lambda: phases.count("after") >= 20, message="probes after the uploads")
    finally:
        stop.set()
        prober.join()
    gc.collect()
    after = rss_mb()
    by_phase = {name: [t for t, p in zip(latencies, phases, strict=True) if p == name]
                for name in ("xlsx", "docx", "csv", "after")}
    print(f"upload seconds: {timings}; answers: "
          f"{ {k: (r.status_code, r.json().get('code')) for k, r in answers.items()} }")
    for name, mine in {"all": latencies, **by_phase}.items():
        if mine:
            print(f"/auth/me during {name}: {len(mine)} requests, p50 "
                  f"{sorted(mine)[len(mine) // 2] * 1000:.0f} ms, p99 {p99(mine) * 1000:.0f} ms, "
                  f"max {max(mine) * 1000:.0f} ms")
    print(f"server RSS: {before:.0f} MB before, {after:.0f} MB after")

    xlsx, docx, csv = answers["xlsx"], answers["docx"], answers["csv"]
    assert xlsx.status_code == 422 and xlsx.json()["code"] == "IMPORT_REJECTED", xlsx.text
    assert [d["code"] for d in xlsx.json()["details"]] == ["TOO_MANY_ROWS"]
    assert docx.status_code == 413 and docx.json()["code"] == "ROADMAP_TOO_LARGE", docx.text
    assert csv.status_code == 200, csv.text[:2000]
    assert csv.json()["imported"] == 10_000
    assert len(world.client.get(people, headers=me).json()) == count_before + 10_000
    # The parses (the 82 s and 176 s freezes) run in the worker: requests keep their pace.
    assert set(statuses) == {200}
    hostile = by_phase["xlsx"] + by_phase["docx"]
    assert len(hostile) >= 20
    assert p99(hostile) < 0.2
    # Saving 10,000 people and every service's read model catching up on 10,000 events share
    # this one process in embedded mode; the API keeps its pace meanwhile too (issue 18, Done
    # when: p99 under 200 ms; was 5.5 s stalls, then ~400-650 ms at p99).
    assert len(by_phase["csv"]) >= 20
    assert p99(latencies) < 0.2
    # The parses' memory goes with the worker (the issue saw 327 MB → 2.99 GB, and 1.9 GB kept
    # after a DOCX); what stays is 10,000 people's read models and caches (~120 MB measured).
    assert after - before < 300
