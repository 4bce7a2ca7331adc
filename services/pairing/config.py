"""The pairing's tunables: weights of the criteria, the objective, the reminder period (TOML)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from services.pairing.commands import Objective
from services.pairing.matching import Weights

DEFAULT_CONFIG = Path(__file__).with_name("weights.toml")


@dataclass(frozen=True)
class PairingConfig:
    objective: Objective = "max_score"
    reminder_days: int = 30
    weights: Weights = field(default_factory=Weights)


def load_config(path: Path | None = None) -> PairingConfig:
    """Weights, objective and reminder period from TOML (``Settings.pairing_config``, set by
    ``NASTAVNIK_PAIRING_CONFIG``, or the file shipped next to this module)."""
    source = path or DEFAULT_CONFIG
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    weights = dict(data.get("weights", {}))
    for name in ("age_gap_ideal", "grade_gap_ideal"):
        if name in weights:
            weights[name] = tuple(weights[name])
    objective = data.get("objective", "max_score")
    if objective not in ("max_score", "max_pairs"):
        raise ValueError(f"{source}: objective must be max_score or max_pairs")
    return PairingConfig(objective=objective, reminder_days=int(data.get("reminder_days", 30)),
                         weights=Weights(**weights))

