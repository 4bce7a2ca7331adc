"""The region's NATS credentials as an operator makes them: ``nastavnik nats-auth`` into a folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.tools.nats_auth import RegionSecrets
from services.cli import app

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
REGION = "demo"
MUNICIPALITIES = ("m1", "m-ozersk")


def issue(out: Path, *extra: str) -> RegionSecrets:
    args = ["nats-auth", "--out", str(out), "--region", REGION]
    for code in MUNICIPALITIES:
        args += ["--municipality", code]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return RegionSecrets(out)


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def authorization_users(conf: Path) -> list[dict[str, Any]]:
    """The users of a generated ``authorization {...}`` block (JSON after the keyword)."""
    keyword, _, body = conf.read_text().partition(" ")
    assert keyword == "authorization"
    return list(json.loads(body)["users"])


@dataclass
class Laid:
    """A deploy/ NATS config copied beside the generated files it includes, as they are mounted."""

    config: Path
    env: dict[str, str]


def lay_out_hub(secrets: RegionSecrets, folder: Path, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cluster.conf").write_text(text or (DEPLOY / "nats" / "cluster.conf").read_text())
    for name in ("auth.conf", "routes.conf"):
        shutil.copy(secrets.hub / name, folder / name)
    return folder / "cluster.conf"


def lay_out_leaf(secrets: RegionSecrets, municipality: str, folder: Path, text: str | None = None) -> Laid:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaf.conf").write_text(text or (DEPLOY / "nats" / "leaf.conf").read_text())
    shutil.copy(secrets.leaf(municipality) / "auth.conf", folder / "auth.conf")
    return Laid(folder / "leaf.conf", read_env(secrets.leaf(municipality) / "leaf.env"))


@pytest.fixture(scope="module")
def region_secrets(tmp_path_factory: pytest.TempPathFactory) -> RegionSecrets:
    return issue(tmp_path_factory.mktemp("secrets") / "region")
