"""Head only in every environment's registry: apply keeps what the branch last applied in each environment's own
registry and refuses an older commit there, as it does in the command's (issue 28's invariant). Staging and
production are two real MLflow servers, each behind a recording proxy that counts what is written."""

from __future__ import annotations

from unittest.mock import ANY

from modelpins.audit import head
from modelpins.audit.records import audit_entries
from modelpins.tags import APPLIED_MODEL
from tests.helpers.cli import run
from tests.helpers.envs import pins, versions


def ci(sha: str) -> dict[str, str]:
    """A push run on main for `sha`."""
    return {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": sha, "MODELPINS_ACTOR": "ci-bot"}


def state(staging, prod, model: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    aliases = staging.get_registered_model(model).aliases, prod.get_registered_model(model).aliases
    return aliases[0], aliases[1], [v.version for v in versions(prod, model)]


def test_a_stale_re_run_is_refused_by_the_environments_registries_and_writes_nothing(repo, two, proxy, proxy_for):
    model, staging, prod, _, _ = two
    front = proxy_for(prod.tracking_uri)
    pins(repo.pins, model, proxy.url, front.url, champion=1)
    repo.git("add", "model_pins.yaml")
    repo.git("commit", "-qm", "Promote v1 through staging to production")
    a = repo.git("rev-parse", "HEAD").strip()
    assert run("apply", "--yes", cwd=repo.root, env=ci(a)).returncode == 0
    b = repo.commit(repo.pins.read_text().replace("champion: 1", "champion: 2"), "Promote v2")
    applied = run("apply", "--yes", cwd=repo.root, env=ci(b))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    before = state(staging, prod, model)
    assert before[0] == {"champion": "2"} and len(before[2]) == 2
    where = head.key(f"{repo.root.resolve()}/main")
    for client in (staging, prod):  # each environment's registry keeps the branch's head
        assert head.parse(client.get_registered_model(APPLIED_MODEL).tags[where]) == head.Applied(b, ANY, "ci-bot")

    repo.git("checkout", "-q", "-B", "main", a)  # a re-run of A's job
    proxy.reset()
    front.reset()
    stale = run("apply", "--yes", cwd=repo.root, env=ci(a))

    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert (
        f"refusing to apply {a[:12]}: it is older than (an ancestor of) {b[:12]}, which main last applied in the "
        "registry of environment 'staging'"
    ) in stale.stderr
    assert proxy.writes() == [] and front.writes() == []  # no copy, no alias, no lock, in neither registry
    assert state(staging, prod, model) == before

    emergency = run("apply", "--yes", "--allow-older", "--reason", "v2 fails in production", cwd=repo.root, env=ci(a))

    assert emergency.returncode == 0, emergency.stdout + emergency.stderr
    assert state(staging, prod, model)[0] == {"champion": "1"}
    (_, record), *_ = audit_entries(staging.get_model_version(model, "1").tags, "champion")[-1:]
    assert (record["allow_older"], record["last_applied"], record["commit"]) == ("v2 fails in production", b, a)
    copy_of_v1 = prod.get_registered_model(model).aliases["champion"]
    (_, record), *_ = audit_entries(prod.get_model_version(model, copy_of_v1).tags, "champion")[-1:]
    assert (record["environment"], record["allow_older"], record["last_applied"]) == (
        "production", "v2 fails in production", b
    )  # fmt: skip
