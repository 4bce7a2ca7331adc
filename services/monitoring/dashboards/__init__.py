"""Dashboards of every organisation, municipality and the region, fed from the audit log.

``fold`` turns events into counts, ``tables`` holds them (and the fold's state), ``projector``
feeds the tables from the log (and replays it as of a date) and ``render`` shapes a dashboard.

One fold (``DashboardFold``) turns events into counts. It runs on plain dicts decoded once with
orjson (no pydantic on the hot path) and is used three ways by the same code:

* live: ``DashboardProjector.catch_up`` tails the audit log after its committed position;
* rebuild: the same projector from position 0, in large batches (``services.monitoring.rebuild``);
* as of a date: ``replay_as_of`` folds the log up to a moment into memory, and the dashboard is
  rendered by the same ``render_dashboard`` from those counts — so it equals the live figure.

Counts are kept per scope at each level (region ``r``, municipality ``r/m``, organisation
``r/m/o``): during a batch they accumulate per organisation only, and are rolled up once when
written, so reading any dashboard is one indexed lookup whatever the size of the log.

Whatever a count depends on besides the event itself (a pair's size, a respondent's previous
answer, an organisation's kind) lives in ``monitoring_dashboard_state``. Every such dependency
is inside one source stream, and the audit log keeps each stream's order, so the fold gives the
same result whichever way streams interleave.
"""

from .fold import DashboardFold, FoldSettings, rolled_counts
from .projector import DashboardProjector, Replayed, replay_as_of
from .render import children_of, render_dashboard
from .tables import (
    HEADLINE,
    PROJECTOR,
    REPORTING_KINDS,
    STATE_KINDS,
    counts_table,
    create_tables,
    level_of,
    org_names,
    pair_members,
    pair_record,
    progress_table,
    read_progress,
    read_scope,
    scope_key,
    state_table,
    write_counts,
    write_progress,
    write_state,
)

__all__ = [
    "HEADLINE", "PROJECTOR", "REPORTING_KINDS", "STATE_KINDS", "DashboardFold", "DashboardProjector",
    "FoldSettings", "Replayed", "children_of", "counts_table", "create_tables", "level_of",
    "org_names", "pair_members", "pair_record", "progress_table", "read_progress", "read_scope",
    "render_dashboard",
    "replay_as_of", "rolled_counts", "scope_key", "state_table", "write_counts", "write_progress",
    "write_state",
]
