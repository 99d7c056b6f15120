"""`apply --parallel N` against the real MLflow server: the order guarantees of a one-at-a-time apply, with
several changes in flight. Every request is traced by the proxy (start, end, body), so the test checks what
the server received, not what the tool says it did."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import rest
from tests.helpers.cli import run
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS = "/api/2.0/mlflow/registered-models/alias"
TAG = "/api/2.0/mlflow/model-versions/set-tag"


def seeded(url: str, tmp_path: Path, count: int) -> tuple[list[str], dict[str, dict[str, int]], Path]:
    """`count` models, each with two aliases to move and one to delete: 3 x count changes."""
    names = [unique("par") for _ in range(count)]
    rest.seed(url, names, versions=3, aliases={"champion": 1, "challenger": 2, "old": 1})
    desired = {n: {"champion": 2, "challenger": 3} for n in names}
    return names, desired, write_pins(tmp_path / "model_pins.yaml", desired)


def writes(proxy: Proxy) -> list[tuple[float, float, str, str, dict[str, str], int]]:
    """The apply's alias and audit-tag writes (lock writes left out), ordered by when they arrived."""
    out = []
    for start, end, method, path, body, status in sorted(proxy.trace):
        if path in (ALIAS, TAG):
            fields = json.loads(body)
            if not fields["name"].startswith("modelpins.lock"):
                out.append((start, end, method, path, fields, status))
    return out


def test_parallel_apply_keeps_the_order_guarantees_and_the_request_counts(mlflow_server, tmp_path):
    names, desired, pins = seeded(mlflow_server.url, tmp_path, 12)  # 24 moves, 12 deletes
    proxy = Proxy(mlflow_server.url).start()
    proxy.faults.append(Fault(status=0, delay=0.05, match=f"POST {ALIAS}"))  # slow alias writes: they overlap
    try:
        result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "4")
    finally:
        proxy.stop()

    assert result.returncode == 0, result.stderr
    assert rest.state(mlflow_server.url, names) == desired
    sent = writes(proxy)
    assert len(sent) == 2 * 36, "one audit tag and one alias request per change, none repeated"
    alias_done: dict[tuple[str, str], float] = {}
    for start, end, _, path, body, _ in sent:
        if path == ALIAS:
            alias_done[(body["name"], body["alias"])] = end
        else:
            key = (body["name"], json.loads(body["value"])["alias"])
            assert key in alias_done and alias_done[key] <= start, f"{key}: audit tag written before its alias moved"
    moves_end = max(end for _, end, method, path, _, _ in sent if path == ALIAS and method == "POST")
    deletes = [(start, body) for start, _, method, path, body, _ in sent if path == ALIAS and method == "DELETE"]
    assert len(deletes) == 12
    first_delete = min(start for start, _ in deletes)
    assert moves_end <= first_delete, "a delete started before every set and move had finished"
    per_alias: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for start, end, _, _, body, _ in sent:
        alias = body.get("alias") or json.loads(body["value"])["alias"]
        per_alias.setdefault((body["name"], alias), []).append((start, end))
    for key, spans in per_alias.items():
        overlap = any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False))
        assert not overlap, f"{key}: two requests of one alias overlapped"
    overlapping = max(sum(1 for s, e, *_ in sent if s <= t < e) for t, *_ in sent)
    assert 2 <= overlapping <= 4, f"{overlapping} requests in flight at once with --parallel 4"


def test_parallel_one_is_one_change_at_a_time_in_plan_order(mlflow_server, tmp_path):
    names, desired, pins = seeded(mlflow_server.url, tmp_path, 4)
    proxy = Proxy(mlflow_server.url).start()
    try:
        plan = run("--pins", pins, "--tracking-uri", proxy.url, "plan", "--json")
        result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "1")
    finally:
        proxy.stop()

    assert result.returncode == 0, result.stderr
    sent = writes(proxy)
    assert all(a[1] <= b[0] for a, b in zip(sent, sent[1:], strict=False)), "requests overlapped with --parallel 1"
    order = [(c["model"], c["alias"]) for c in json.loads(plan.stdout)["changes"]]
    assert [(b["name"], b["alias"]) for _, _, _, path, b, _ in sent if path == ALIAS] == order


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_after_a_failure_no_change_starts_and_the_report_is_exact(mlflow_server, tmp_path, parallel):
    names, desired, pins = seeded(mlflow_server.url, tmp_path, 10)  # 20 moves, 10 deletes
    before = rest.state(mlflow_server.url, names)
    proxy = Proxy(mlflow_server.url).start()
    proxy.faults.append(Fault(status=0, delay=0.05, match=f"POST {ALIAS}"))
    proxy.faults.append(Fault(status=400, count=1, after=7, match=f"POST {ALIAS}"))  # the 8th alias write fails
    try:
        result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", parallel)
    finally:
        proxy.stop()

    assert result.returncode == 1, result.stderr
    stopped = re.search(r"applied (\d+) of 30 changes, then stopped", result.stderr)
    assert stopped, result.stderr
    line = re.compile(r"^(applied |failed  |pending ) +(\S+)@(\S+):", re.M)
    reported = {(m[1], m[2]): m[0].strip() for m in line.findall(result.stdout + result.stderr)}
    assert len(reported) == 30, "every change is reported once: applied, failed or pending"
    assert sum(1 for v in reported.values() if v == "failed") == 1
    assert sum(1 for v in reported.values() if v == "applied") == int(stopped.group(1))
    after = rest.state(mlflow_server.url, names)
    for (model, alias), verdict in reported.items():
        now, was, wanted = after[model].get(alias), before[model].get(alias), desired[model].get(alias)
        assert now == (wanted if verdict == "applied" else was), (model, alias, verdict, now)
    sent = writes(proxy)
    failed_at = min(end for _, end, *_, status in sent if status == 400)
    late = [start for start, *_ in sent if start > failed_at]
    assert len(late) <= 2 * (int(parallel) - 1), f"{len(late)} requests started after the failure was answered"
    assert not any(method == "DELETE" for _, _, method, *_ in sent), "a delete started although a move had failed"
