"""`drift --fix apply` writes through apply's path: the apply lock, gate evidence, an audit record with `gates`,
and the committed file as its target."""

from __future__ import annotations

from modelpins.registry import MlflowRegistry
from modelpins.registry_mutex import ApplyLock
from tests.gates.support import seed
from tests.helpers.cli import run, start, wait_for
from tests.helpers.seed import alias_state, audit, unique

GATED = """version: 1
models:
  {model}:
    aliases:
      champion: {champion}
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: 0.85
"""


def test_fix_apply_refuses_a_target_without_gate_evidence(repo, client, proxy):
    model = unique("drift-gated")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.95}], {"champion": 2})
    repo.commit(GATED.format(model=model, champion=2), "Pin v2")
    client.set_registered_model_alias(model, "champion", "1")  # by hand; v2 never passed its gates

    refused = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes", cwd=repo.root)

    assert refused.returncode == 1, refused.stderr
    assert f"{model}@champion -> v2: no gate results for 'champion'" in refused.stderr
    assert alias_state(client, [model]) == {model: {"champion": 1}}


def test_fix_apply_records_gates_and_restores_the_committed_file(repo, client, proxy):
    model = unique("drift-evidence")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.95}, {"accuracy": 0.97}], {"champion": 1})
    head = repo.commit(GATED.format(model=model, champion=2), "Pin v2 (#41)")
    assert run("--tracking-uri", proxy.url, "gate", cwd=repo.root).returncode == 0  # evidence for v2
    repo.pins.write_text(GATED.format(model=model, champion=3))  # an uncommitted edit: not git's state

    fixed = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes", cwd=repo.root)

    assert fixed.returncode == 0, fixed.stderr
    assert f"restored {model}@champion: 1 -> 2" in fixed.stdout
    assert alias_state(client, [model]) == {model: {"champion": 2}}
    record = audit(client, model, 2)
    assert record["gates"] == "passed" and record["reason"] == "drift-fix"
    assert record["commit"] == head and record["pr"] == "41"


def test_fix_apply_waits_for_the_apply_lock(repo, client, proxy, mlflow_server):
    model = unique("drift-locked")
    seed(client, model, 2, {"champion": 2})
    repo.commit(f"version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: 2\n", "Pin")
    client.set_registered_model_alias(model, "champion", "1")
    held = ApplyLock(MlflowRegistry(mlflow_server.url), "alice", ttl=600)
    held.acquire()
    try:
        proc = start("--pins", repo.pins, "--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes")
        creates = lambda: [p for m, p in proxy.log if p.endswith("/registered-models/create")]  # noqa: E731
        wait_for(lambda: len(creates()) >= 2, what="drift trying to take the apply lock twice")
        assert alias_state(client, [model]) == {model: {"champion": 1}}, "wrote while another held the lock"
    finally:
        held.release()
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert "waiting up to 300s for the apply lock held by alice" in err
    assert alias_state(client, [model]) == {model: {"champion": 2}}


def test_fix_apply_from_a_checkout_behind_the_last_applied_commit_is_refused(repo, client, proxy, mlflow_server):
    """A local main that has not pulled the last merge: restoring its file would undo that merge. Refused like a
    stale apply (head only), nothing written."""
    model = unique("drift-behind")
    seed(client, model, 3, {"champion": 1})
    plain = "version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: {v}\n"
    older = repo.commit(plain.format(model=model, v=1), "Pin v1")
    newer = repo.commit(plain.format(model=model, v=2), "Pin v2")
    assert run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root).returncode == 0
    repo.git("reset", "-q", "--hard", older)  # main, not pulled since
    client.set_registered_model_alias(model, "champion", "3")  # drift, by hand
    proxy.reset()

    refused = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes", cwd=repo.root)

    assert refused.returncode == 1, refused.stderr
    assert f"refusing to apply {older[:12]}: it is older than (an ancestor of) {newer[:12]}" in refused.stderr
    assert alias_state(client, [model]) == {model: {"champion": 3}}
    assert proxy.writes() == []

    repo.git("reset", "-q", "--hard", newer)  # pulled: the fix restores the last merge
    fixed = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes", cwd=repo.root)
    assert fixed.returncode == 0, fixed.stderr
    assert alias_state(client, [model]) == {model: {"champion": 2}}
