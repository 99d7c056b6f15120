"""api.py in process: plan and the core apply over a registry that implements the `api.Registry` Protocol.

The registry here is a fake (an in-memory dict): the core apply is logic over the Protocol, and these
tests check that logic alone (order of writes, where it stops, what it reports). The real adapter is
tested against the real MLflow server in tests/test_registry.py, and the whole command in tests/test_apply.py.
"""

from __future__ import annotations

import json

import pytest

from modelpins import api, pins
from modelpins.context import Context
from modelpins.errors import InvalidPins, OperationFailed
from modelpins.registry import VersionInfo
from modelpins.tags import AUDIT_PREFIX

FILE = """version: 1
models:
  scorer:
    aliases:
      champion: 3
      challenger: 4
"""
CTX = Context(actor="alice", commit="0123456789ab", pr="7", run_url=None, at="2026-12-01T10:00:00Z")


class FakeRegistry:
    """In memory: {model: {alias: version}}, versions with tags; every write is logged; `fail_on` raises."""

    def __init__(self, aliases: dict[str, dict[str, int]], versions: dict[str, list[int]], fail_on: str = ""):
        self.state = aliases
        self.infos = {(m, v): VersionInfo(m, v, "READY", tags={}) for m, vs in versions.items() for v in vs}
        self.tags: dict[tuple[str, int], dict[str, str]] = {}
        self.log: list[str] = []
        self.fail_on = fail_on
        self.reads = 0
        self.writes = 0

    def aliases(self) -> dict[str, dict[str, int]]:
        self.reads += 1
        return {m: dict(a) for m, a in self.state.items()}

    def versions(self, models: set[str]) -> dict[tuple[str, int], VersionInfo]:
        self.reads += 1
        return {k: v for k, v in self.infos.items() if k[0] in models}

    def _write(self, what: str) -> None:
        self.writes += 1
        if self.fail_on and self.fail_on in what:
            raise OperationFailed(f"refused {what}")
        self.log.append(what)

    def set_alias(self, model: str, alias: str, version: int) -> None:
        self._write(f"set {model}@{alias}={version}")
        self.state.setdefault(model, {})[alias] = version

    def delete_alias(self, model: str, alias: str) -> None:
        self._write(f"delete {model}@{alias}")
        self.state[model].pop(alias)

    def set_version_tag(self, model: str, version: int, key: str, value: str) -> None:
        self._write(f"tag {model}/{version}")
        self.tags.setdefault((model, version), {})[key] = value


def test_apply_writes_each_audit_record_after_its_move_and_converges() -> None:
    registry = FakeRegistry({"scorer": {"champion": 2, "old": 1}}, {"scorer": [1, 2, 3, 4]})

    result = api.apply_plan(api.make_plan(pins.loads(FILE), registry), registry, CTX)

    assert registry.state == {"scorer": {"champion": 3, "challenger": 4}}
    assert registry.log == [
        "set scorer@champion=3",
        "tag scorer/3",
        "set scorer@challenger=4",
        "tag scorer/4",
        "delete scorer@old",
        "tag scorer/1",
    ]
    assert result.failed is None and len(result.applied) == 3
    ((key, value),) = registry.tags[("scorer", 3)].items()
    assert key.startswith(AUDIT_PREFIX + "champion.")
    assert json.loads(value) | {"at": "-"} == {
        "action": "move", "alias": "champion", "from": 2, "to": 3,
        "actor": "alice", "commit": "0123456789ab", "pr": "7", "at": "-",
    }  # fmt: skip
    assert api.make_plan(pins.loads(FILE), registry).changes == []


def test_apply_stops_at_the_first_failure_and_names_what_is_pending() -> None:
    registry = FakeRegistry({"scorer": {"champion": 2}}, {"scorer": [2, 3, 4]}, fail_on="set scorer@champion")

    result = api.apply_plan(api.make_plan(pins.loads(FILE), registry), registry, CTX)

    assert result.applied == []
    assert result.failed is not None and result.failed.alias == "champion"
    assert result.error == "refused set scorer@champion=3"
    assert [c.alias for c in result.not_started] == ["challenger"]
    assert registry.state == {"scorer": {"champion": 2}}  # nothing moved after the failure
    assert registry.tags == {}  # and the failed move has no audit record


def test_a_missing_version_is_invalid_input_at_its_line_and_nothing_is_written() -> None:
    registry = FakeRegistry({"scorer": {}}, {"scorer": [1, 2, 3]})

    with pytest.raises(InvalidPins) as caught:
        api.make_plan(pins.loads(FILE), registry)

    (problem,) = caught.value.problems
    assert (problem.line, problem.message) == (6, "version 4 of 'scorer' does not exist in MLflow")
    assert "newest: 1, 2, 3" in problem.fix
    assert registry.writes == 0


def test_a_model_missing_from_the_registry_is_named() -> None:
    registry = FakeRegistry({}, {})

    with pytest.raises(InvalidPins) as caught:
        api.validate_live(pins.loads(FILE), registry)

    assert [p.message for p in caught.value.problems] == ["registered model 'scorer' does not exist in MLflow"]


def test_a_record_that_cannot_be_written_moves_the_alias_back_and_the_change_fails() -> None:
    registry = FakeRegistry({"scorer": {"champion": 2}}, {"scorer": [2, 3, 4]}, fail_on="tag scorer/3")

    result = api.apply_plan(api.make_plan(pins.loads(FILE), registry), registry, CTX)

    assert registry.state == {"scorer": {"champion": 2}}  # moved to 3, then back: no unrecorded move stays
    assert registry.log == ["set scorer@champion=3", "set scorer@champion=2"]
    assert [(f.change.alias, f.error) for f in result.failures] == [
        ("champion", "audit record not written, so the alias was moved back: refused tag scorer/3")
    ]
    assert result.applied == [] and [c.alias for c in result.not_started] == ["challenger"]
