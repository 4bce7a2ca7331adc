"""The codebase keeps one shape: no import cycles, services meet only over the bus, rights are
decided in one policy, files a newcomer can read, every service folder alike."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "shared", "benchmarks")
SERVICES = ("registry", "pairing", "monitoring", "documents")
SERVICE_FILES = ("domain.py", "commands.py", "application.py", "api.py", "rpc.py", "consumers.py",
                 "views.py", "runtime.py")
MAX_LINES = 500
ROLE_NAMES = re.compile(r"\bRole\.[A-Z_]+\b|[\"'](curator|municipal|regional|auditor|participant|admin)[\"']")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


MODULES = {module_name(p): p for p in python_files()}


def imported_modules(path: Path) -> set[str]:
    """Every project module ``path`` imports, wherever the import stands (in a function too;
    ``if TYPE_CHECKING`` imports are not run and do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


GRAPH = {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys
    sys.setrecursionlimit(10_000)
    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles() == []


def service_of(module: str) -> str | None:
    parts = module.split(".")
    in_service = len(parts) > 1 and parts[0] == "services" and parts[1] in (*SERVICES, "portal")
    return parts[1] if in_service else None


def test_services_never_import_each_other() -> None:
    crossings = sorted(f"{source} -> {target}" for source, targets in GRAPH.items() for target in targets
                       if service_of(source) and service_of(target)
                       and service_of(source) != service_of(target))
    assert crossings == []


def test_the_platform_imports_no_service_and_the_product_no_benchmark() -> None:
    wrong = sorted(f"{source} -> {target}" for source, targets in GRAPH.items() for target in targets
                   if (source.startswith("shared") and not target.startswith("shared"))
                   or (source.startswith("services") and target.startswith("benchmarks")))
    assert wrong == []


def test_rights_are_decided_in_the_policy_and_service_layers_only() -> None:
    offenders = []
    for path in python_files():
        if path.name in ("api.py", "rpc.py", "consumers.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ROLE_NAMES.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_no_file_longer_than_a_newcomer_reads() -> None:
    long = {str(p.relative_to(ROOT)): n for p in python_files()
            if p.parts[len(ROOT.parts)] in ("services", "shared")
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_folder_reads_the_same(service: str) -> None:
    folder = ROOT / "services" / service
    assert sorted(f for f in SERVICE_FILES if not (folder / f).exists()) == []
