"""`apply` moves an alias only onto a version with passing, current gate evidence (or --skip-gates)."""

from __future__ import annotations

from tests.gates.support import seed, write
from tests.helpers.cli import run
from tests.helpers.seed import alias_state, unique
from tests.helpers.seed import audit as latest_audit

PINS = """
version: 1
models:
  {model}:
    aliases:
      champion: {version}
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: {min}
        - kind: regression
          metric: accuracy
          tolerance: 0.05
  {plain}:
    aliases:
      champion: 2
"""


def audit(client, model, version, alias="champion"):
    return latest_audit(client, model, version, alias)


def test_apply_refuses_without_evidence_then_applies_after_gates_pass(client, proxy, tmp_path):
    model, plain = unique("guarded"), unique("plain")
    seed(client, model, [{"accuracy": 0.88}, {"accuracy": 0.9}], {"champion": 1})
    seed(client, plain, 2, {"champion": 1})
    pins = write(tmp_path / "model_pins.yaml", PINS.format(model=model, plain=plain, version=2, min=0.85))

    refused = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert refused.returncode == 1
    assert f"{model}@champion -> v2: no gate results for 'champion'" in refused.stderr
    assert "run `modelpins gate`" in refused.stderr and plain not in refused.stderr.split("refusing")[1]
    assert proxy.writes() == []  # refused before any write, also for the ungated model
    gated = run("--pins", pins, "--tracking-uri", proxy.url, "gate")
    assert gated.returncode == 0, gated.stdout + gated.stderr
    proxy.reset()
    applied = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert alias_state(client, [model, plain]) == {model: {"champion": 2}, plain: {"champion": 2}}
    assert audit(client, model, 2)["gates"] == "passed"
    assert "gates" not in audit(client, plain, 2)
    # the evidence came with the plan's version search: the reads are the plan, the plan again under
    # the apply lock, and the lock's own check; no run or version is read for the gates
    plan_reads = [("GET", "/api/2.0/mlflow/registered-models/search"), ("GET", "/api/2.0/mlflow/model-versions/search")]
    version = [("GET", "/version")]
    assert proxy.reads() == version + plan_reads * 2 + [("GET", "/api/2.0/mlflow/registered-models/get")]


def test_failed_evidence_refuses_and_skip_gates_is_audited(client, tmp_path, mlflow_server):
    model, plain = unique("failing"), unique("plain")
    seed(client, model, [{"accuracy": 0.88}, {"accuracy": 0.80}], {"champion": 1})
    seed(client, plain, 2, {"champion": 1})
    pins = write(tmp_path / "model_pins.yaml", PINS.format(model=model, plain=plain, version=2, min=0.85))
    uri = ("--pins", pins, "--tracking-uri", mlflow_server.url)

    assert run(*uri, "gate").returncode == 1
    refused = run(*uri, "apply", "--yes")
    dry = run(*uri, "apply", "--dry-run")
    skipped = run(*uri, "apply", "--yes", "--skip-gates", env={"MODELPINS_ACTOR": "oncall@example.com"})

    assert refused.returncode == 1 and "gates failed (threshold-accuracy, regression-accuracy)" in refused.stderr
    assert dry.returncode == 1 and "refusing" in dry.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert "gates skipped" in skipped.stderr
    assert alias_state(client, [model]) == {model: {"champion": 2}}
    record = audit(client, model, 2)
    assert record["gates"] == "skipped" and record["actor"] == "oncall@example.com"


def test_changed_gates_or_moved_baseline_make_evidence_stale(client, tmp_path, mlflow_server):
    model, plain = unique("stale"), unique("plain")
    seed(client, model, [{"accuracy": 0.88}, {"accuracy": 0.90}, {"accuracy": 0.95}], {"champion": 1})
    seed(client, plain, 2, {"champion": 2})
    pins = tmp_path / "model_pins.yaml"
    uri = ("--pins", pins, "--tracking-uri", mlflow_server.url)
    write(pins, PINS.format(model=model, plain=plain, version=2, min=0.85))
    assert run(*uri, "gate").returncode == 0

    write(pins, PINS.format(model=model, plain=plain, version=2, min=0.86))  # a stricter gate since
    changed = run(*uri, "apply", "--yes")
    write(pins, PINS.format(model=model, plain=plain, version=2, min=0.85))
    client.set_registered_model_alias(model, "champion", "3")  # the baseline moved since
    moved = run(*uri, "apply", "--yes")

    assert changed.returncode == 1 and "gates in the pins file changed since they last ran" in changed.stderr
    assert moved.returncode == 1
    assert f"baseline {model}@champion is v3 now, the gates compared with v1" in moved.stderr
    assert alias_state(client, [model]) == {model: {"champion": 3}}


WAIVED = """
version: 1
models:
  {model}:
    aliases:
      champion: {version}
{waiver}    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: 0.99
"""
WAIVER = '    waivers:\n      champion: {{version: {version}, reason: "roll back the bad retrain"}}\n'


def test_waiver_lets_a_rollback_to_a_version_that_served_pass_and_is_audited(client, proxy, tmp_path):
    model = unique("rollback")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.9}, {"accuracy": 0.9}], {})
    pins = tmp_path / "model_pins.yaml"
    for version in (1, 2):  # v1 serves champion first, then v2 replaces it (gates overridden here)
        write(pins, WAIVED.format(model=model, version=version, waiver=""))
        done = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--skip-gates")
        assert done.returncode == 0, done.stderr

    write(pins, WAIVED.format(model=model, version=1, waiver=WAIVER.format(version=1)))
    back = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert back.returncode == 0, back.stderr
    assert alias_state(client, [model]) == {model: {"champion": 1}}
    record = audit(client, model, 1)
    assert record["gates"] == "waived" and record["waiver"] == "roll back the bad retrain"


def test_waiver_for_a_version_that_never_served_is_refused(client, proxy, tmp_path):
    model = unique("fake-rollback")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.9}], {"champion": 1})
    pins = write(tmp_path / "model_pins.yaml", WAIVED.format(model=model, version=2, waiver=WAIVER.format(version=2)))

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert result.returncode == 1
    assert f"{model}@champion -> v2" in result.stderr and "never served" in result.stderr
    assert proxy.writes() == []
    assert alias_state(client, [model]) == {model: {"champion": 1}}
