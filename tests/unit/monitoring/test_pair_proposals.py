"""A pair proposed to another organisation's mentor is not a pair in the figures: it counts once
confirmed, once, at the mentees' organisation (where the pairing files it), never at the mentor's."""

from __future__ import annotations

import uuid

from services.monitoring.dashboards import DashboardFold, rolled_counts
from tests.unit.audit.test_figures import envelope


def test_a_proposal_counts_only_once_confirmed_and_at_the_mentees_school() -> None:
    school_a, school_b = str(uuid.uuid4()), str(uuid.uuid4())
    mentor, mentee = str(uuid.uuid4()), str(uuid.uuid4())
    pair = {"organisation_id": school_a, "form": "teacher-student", "mentor_id": mentor,
            "mentee_ids": [mentee], "mentor_organisation_id": school_b}
    fold = DashboardFold()
    fold.apply(envelope(1, "PairProposed", "r/m1/a", pair, aggregate=7))
    counts, _ = rolled_counts(fold)
    assert counts.get("r", {}).get("pairs.active", 0) == 0
    assert counts.get("r", {}).get("pairs.formed", 0) == 0

    fold.apply(envelope(2, "PairProposalConfirmed", "r/m1/a", pair, aggregate=7))
    fold.apply(envelope(3, "MeetingHeld", "r/m1/a", {"kind": "intro", "date": "2025-10-01",
                                                     "duration_minutes": 40,
                                                     "format": "in_person", "number": 1},
                        aggregate=7))
    counts, _ = rolled_counts(fold)
    assert counts["r/m1/a"]["pairs.active"] == 1 and counts["r"]["pairs.active"] == 1
    assert counts["r"]["pairs.formed"] == 1 and counts["r"]["pairs.mentees"] == 1
    assert counts.get("r/m1/b", {}).get("pairs.active", 0) == 0
    assert counts["r/m1/a"]["feedback.expected"] == 2  # the pair's members are known

    fold.apply(envelope(4, "PairDissolved", "r/m1/a", {"returned_mentee_ids": [mentee]},
                        aggregate=7))
    counts, _ = rolled_counts(fold)  # the changes since the last reading
    assert counts["r"]["pairs.active"] == -1 and counts["r"]["pairs.dissolved"] == 1


def test_a_declined_proposal_changes_no_figure() -> None:
    pair = {"organisation_id": str(uuid.uuid4()), "form": "teacher-student",
            "mentor_id": str(uuid.uuid4()), "mentee_ids": [str(uuid.uuid4())],
            "mentor_organisation_id": str(uuid.uuid4())}
    fold = DashboardFold()
    fold.apply(envelope(1, "PairProposed", "r/m1/a", pair, aggregate=7))
    fold.apply(envelope(2, "PairProposalDeclined", "r/m1/a",
                        {"returned_mentee_ids": pair["mentee_ids"]}, aggregate=7))
    counts, _ = rolled_counts(fold)
    assert not any(metric.startswith("pairs") for metric in counts.get("r", {}))
