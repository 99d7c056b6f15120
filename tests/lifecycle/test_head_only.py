"""Head only: a re-run of an older apply never rolls back a newer merge (real git repository, real MLflow).

The sequence of the issue: merge A moves champion 1 -> 2 and its apply fails; merge B moves it to 3 and is
applied; A's run is re-run, checked out at A as a CI re-run does (`checkout -B main A`)."""

from __future__ import annotations

from modelpins.audit.records import audit_entries
from tests.helpers.cli import run
from tests.helpers.proxy import Fault
from tests.helpers.seed import alias_state, seed_model, unique
from tests.lifecycle.conftest import pins_text


def ci(sha: str) -> dict[str, str]:
    """The environment of a push run on main for `sha`."""
    return {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": sha, "MODELPINS_HTTP_RETRIES": "0"}


def records(client, model: str) -> int:
    return sum(len(audit_entries(client.get_model_version(model, v).tags)) for v in ("1", "2", "3"))


def test_a_stale_re_run_is_refused_and_the_head_or_an_emergency_is_applied(repo, client, mlflow_server, proxy):
    model = unique("stale")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    repo.commit(pins_text(model, 1), "Pin")
    a = repo.merge_pr(1, "promote-a", pins_text(model, 2), "Promote to 2")
    proxy.faults.append(Fault(status=503, match="POST /api/2.0/mlflow/registered-models/alias"))
    failed = run("--tracking-uri", proxy.url, "apply", "--yes", cwd=repo.root, env=ci(a))
    assert failed.returncode == 1, failed.stderr
    proxy.faults.clear()
    b = repo.merge_pr(2, "promote-b", pins_text(model, 3), "Promote to 3")
    applied = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=ci(b))
    assert applied.returncode == 0, applied.stderr
    assert alias_state(client, [model])[model]["champion"] == 3
    written = records(client, model)

    repo.git("checkout", "-q", "-B", "main", a)  # the re-run of A's failed run
    proxy.reset()
    stale = run("--tracking-uri", proxy.url, "apply", "--yes", cwd=repo.root, env=ci(a))

    assert stale.returncode == 1, stale.stderr
    assert f"refusing to apply {a[:12]}: it is older than (an ancestor of) {b[:12]}" in stale.stderr
    assert "Apply the branch head" in stale.stderr and "--allow-older" in stale.stderr
    assert alias_state(client, [model])[model]["champion"] == 3
    assert proxy.writes() == [] and records(client, model) == written  # nothing written, not even the lock

    repo.git("checkout", "-q", "-B", "main", b)  # the head again: an idempotent re-run
    same = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=ci(b))
    assert same.returncode == 0, same.stderr
    assert "No changes" in same.stdout

    repo.git("checkout", "-q", "-B", "main", a)
    no_reason = run("--tracking-uri", mlflow_server.url, "apply", "--yes", "--allow-older", cwd=repo.root, env=ci(a))
    assert no_reason.returncode == 2 and "--allow-older needs --reason" in no_reason.stderr
    emergency = run(
        "--tracking-uri", mlflow_server.url, "apply", "--yes", "--allow-older", "--reason", "v3 crashes on arm64",
        cwd=repo.root, env=ci(a),
    )  # fmt: skip
    assert emergency.returncode == 0, emergency.stderr
    assert alias_state(client, [model])[model]["champion"] == 2
    (_, record), *_ = audit_entries(client.get_model_version(model, "2").tags, "champion")[-1:]
    assert (record["reason"], record["allow_older"], record["last_applied"], record["commit"]) == (
        "v3 crashes on arm64", "v3 crashes on arm64", b, a
    )  # fmt: skip


def test_an_unrelated_commit_is_refused(repo, client, mlflow_server):
    model = unique("unrelated")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    first = repo.commit(pins_text(model, 1), "Pin")
    assert run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=ci(first)).returncode == 0
    repo.git("checkout", "-q", "--orphan", "other")
    other = repo.commit(pins_text(model, 2), "Another history")
    repo.git("checkout", "-q", "-B", "main", other)

    result = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=ci(other))

    assert result.returncode == 1
    assert f"refusing to apply {other[:12]}: it is not a descendant of {first[:12]}" in result.stderr
    assert alias_state(client, [model])[model]["champion"] == 1
