"""Promotion across environments: each environment's registry, copies between them, order and soak time.

An environment with a `registry` keeps its own registered models (`prod.{model}` on one server,
or the same names on a server of its own). A pin `promote_from: staging@champion` says: this alias
points at a copy of the version staging's champion has. The plan resolves each environment in
promotion order, finds an earlier copy by its provenance tag (so a re-run never copies twice) or
predicts the version number a new copy gets; apply makes the copies as `copy_model_version` does
(source `models:/NAME/VERSION` on the same server, the source's storage location across servers;
run link and tags carried over), runs the target's gates on each copy with the source run's
evidence, then moves the aliases through the one write path (`write.move_aliases`).

Modules: `model` (the data), `registries` (each environment's adapter and credentials), `planning`
(copies and alias moves, without writing), `soak` (promotion order and soak time), `applying`
(the copies and the moves), `report` (table, PR comment, JSON).
"""

from modelpins.crossenv.applying import Applied, apply, copy_version, locked_digest
from modelpins.crossenv.gating import gate
from modelpins.crossenv.model import Copy, EnvPlan, Promotions, Source, Wait, duration, stamp
from modelpins.crossenv.planning import environment_view, find_copy, from_settings, make_plan, source_of
from modelpins.crossenv.registries import (
    check_servers,
    connect,
    has_default_pins,
    locate,
    pinned_environments,
    uri,
)
from modelpins.crossenv.report import as_json, markdown, summary, table
from modelpins.crossenv.soak import enforce_soak, held_since

__all__ = [
    "Applied",
    "Copy",
    "EnvPlan",
    "Promotions",
    "Source",
    "Wait",
    "apply",
    "as_json",
    "check_servers",
    "connect",
    "copy_version",
    "duration",
    "enforce_soak",
    "environment_view",
    "find_copy",
    "from_settings",
    "gate",
    "has_default_pins",
    "held_since",
    "locate",
    "locked_digest",
    "make_plan",
    "markdown",
    "pinned_environments",
    "source_of",
    "stamp",
    "summary",
    "table",
    "uri",
]
