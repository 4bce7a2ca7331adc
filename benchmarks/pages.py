"""``nastavnik bench-pages``: how long each portal page takes on the demo region, per role.

The whole system as a user meets it: ``nastavnik up --demo`` in a subprocess (a real
``nats-server``, every service, the demo region with its school year loaded through the API),
then for each role a person signs in through the portal's own login form — the regional and
auditor accounts with the code their authenticator app shows (the demo's published secrets) —
and requests every page of that role's menu (``services/portal/navigation.py``) ``runs`` times,
redirects followed, as a browser would. Printed: p50/p95 per page, per role and overall, beside
the goal (p95 < 300 ms). The figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pyotp
import typer

from benchmarks.measure import percentile
from services.portal.auth import DEMO_PASSWORD, DEMO_TOTP_SECRETS
from services.portal.navigation import MENU
from shared.auth import Role

#: The demo account signed in as for each role (``services/portal/auth.py``'s demo accounts).
ACCOUNTS: dict[Role, str] = {Role.CURATOR: "curator-school-1", Role.MUNICIPAL: "municipal-berezovsky",
                             Role.REGIONAL: "regional", Role.AUDITOR: "auditor"}
GOAL_P95_MS = 300.0
CLI = str(Path(sys.executable).with_name("nastavnik"))
#: Loading the demo region (its people, pairs and a school year of activity) takes a while.
START_TIMEOUT = 300.0


@contextmanager
def demo_system(data_dir: Path) -> Iterator[str]:
    """``nastavnik up --demo`` running until the block ends; yields its base URL."""
    process = subprocess.Popen([CLI, "up", "--demo", "--data-dir", str(data_dir), "--port", "0"],
                               env=dict(os.environ), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # The announcement ends («Остановить») once the demo region is loaded.
        while not any("Остановить" in line for line in lines) and process.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("система не запустилась за отведённое время:\n" + "".join(lines))
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError("система завершилась при запуске:\n" + "".join(lines))
        yield next(line.split()[1] for line in lines if line.startswith("API:"))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(url: str, login: str) -> httpx.Client:
    """A browser-like client signed in through the portal's form (password, and the current code
    of the account's authenticator when it has one)."""
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    secret = DEMO_TOTP_SECRETS.get(login)
    form = {"login": login, "password": DEMO_PASSWORD, "next": "/",
            "otp": pyotp.TOTP(secret).now() if secret else ""}
    answer = client.post("/login", data=form)
    if answer.status_code != 200 or answer.url.path.startswith("/login"):
        client.close()
        raise RuntimeError(f"вход {login} не удался: {answer.status_code} {answer.url.path}")
    return client


def menu_of(role: Role) -> list[tuple[str, str]]:
    """(address, title) of every entry of the role's menu, in its order."""
    return [(item.href, item.title) for item in MENU if role in item.roles]


def time_pages(client: httpx.Client, pages: list[tuple[str, str]], runs: int
               ) -> dict[str, dict[str, Any]]:
    """Every page ``runs`` times, round-robin (a warm-up request of each first, not counted)."""
    times: dict[str, list[float]] = {href: [] for href, _ in pages}
    statuses: dict[str, set[int]] = {href: set() for href, _ in pages}
    for href, _ in pages:
        statuses[href].add(client.get(href).status_code)
    for _ in range(runs):
        for href, _ in pages:
            started = time.perf_counter()
            answer = client.get(href)
            times[href].append((time.perf_counter() - started) * 1000)
            statuses[href].add(answer.status_code)
    return {href: {"title": title, "times_ms": times[href], "statuses": sorted(statuses[href]),
                   "p50_ms": round(percentile(times[href], 0.5), 1),
                   "p95_ms": round(percentile(times[href], 0.95), 1)}
            for href, title in pages}


def run(runs: int, data_dir: Path | None = None,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nastavnik-pages-") as scratch:
        folder = data_dir or Path(scratch)
        progress("Запуск системы с демонстрационным регионом…")
        with demo_system(folder) as url:
            roles: dict[str, dict[str, Any]] = {}
            for role, login in ACCOUNTS.items():
                progress(f"{role.value}: вход {login}, {runs} × {len(menu_of(role))} страниц")
                client = sign_in(url, login)
                try:
                    roles[role.value] = {"login": login,
                                         "pages": time_pages(client, menu_of(role), runs)}
                finally:
                    client.close()
    every = [t for r in roles.values() for p in r["pages"].values() for t in p["times_ms"]]
    for r in roles.values():
        mine = [t for p in r["pages"].values() for t in p["times_ms"]]
        r["p50_ms"], r["p95_ms"] = round(percentile(mine, 0.5), 1), round(percentile(mine, 0.95), 1)
    return {"runs": runs, "roles": roles, "requests": len(every),
            "p50_ms": round(percentile(every, 0.5), 1), "p95_ms": round(percentile(every, 0.95), 1),
            "goal_p95_ms": GOAL_P95_MS,
            "all_ok": all(p["statuses"] == [200] for r in roles.values()
                          for p in r["pages"].values())}


def report(result: dict[str, Any]) -> str:
    lines = [f"Время страниц портала, демо-регион; запросов каждой страницы: {result['runs']}",
             f"{'роль':<10} {'страница':<22} {'p50, мс':>8} {'p95, мс':>8}  ответ"]
    for role, r in result["roles"].items():
        for href, page in r["pages"].items():
            lines.append(f"{role:<10} {href:<22} {page['p50_ms']:>8} {page['p95_ms']:>8}  "
                         f"{','.join(map(str, page['statuses']))} {page['title']}")
        lines.append(f"{role:<10} {'(все страницы роли)':<22} {r['p50_ms']:>8} {r['p95_ms']:>8}")
    met = "выполнена" if result["p95_ms"] < result["goal_p95_ms"] else "не выполнена"
    lines.append(f"{'итого':<10} {result['requests']} запросов{'':<8} {result['p50_ms']:>8} "
                 f"{result['p95_ms']:>8}  цель: p95 < {result['goal_p95_ms']:.0f} мс — {met}")
    return "\n".join(lines)


def pages_command(runs: Annotated[int, typer.Option(min=1, help="Запросов каждой страницы")] = 20,
                  json_file: Annotated[Path | None,
                                       typer.Option("--json", help="Куда записать цифры")] = None
                  ) -> None:
    """Измерить время страниц портала по ролям на демонстрационном регионе (p50/p95)."""
    result = run(runs, progress=typer.echo)
    typer.echo(report(result))
    if json_file:
        json_file.write_text(json.dumps(result, ensure_ascii=False, indent=2))
