"""pins-apply.yml applies the branch head, never a stale triggering commit (under act).

Merge A moves champion 1 -> 2 and its apply fails (the registry answers 503); merge B moves it to 3 and
is applied; then A's failed run is re-run. The re-run checks out the head of main (B), so champion
stays on 3, nothing is written, and the job summary says the head was applied instead of A."""

from __future__ import annotations

import pytest

from modelpins.audit.records import audit_entries
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import alias_state, seed_model, unique
from tests.workflows.conftest import git
from tests.workflows.test_pins_apply import fresh_branch, pins_text  # noqa: F401 (a fixture)


def push(sha: str) -> dict:
    """A push event for `sha` on main, as a run (or its re-run) of that push sees it."""
    return {
        "ref": "refs/heads/main",
        "after": sha,
        "deleted": False,
        "repository": {"full_name": "acme/models", "default_branch": "main"},
    }


def records(client, model: str) -> int:
    return sum(len(audit_entries(client.get_model_version(model, v).tags)) for v in ("1", "2", "3"))


def merge(flow, branch: str, model: str, champion: int, number: int) -> str:
    git(flow.root, "checkout", "-q", "-b", branch)
    flow.commit(f"Promote champion to {champion}", {"model_pins.yaml": pins_text(model, champion, 3)})
    git(flow.root, "checkout", "-q", "main")
    git(flow.root, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}", branch)
    return git(flow.root, "rev-parse", "HEAD")


@pytest.mark.usefixtures("fresh_branch")
def test_a_re_run_of_an_older_apply_applies_the_head_and_writes_nothing(flow, client, mlflow_server):
    model = unique("wf-head")
    seed_model(client, model, [{"accuracy": 0.82}, {"accuracy": 0.9}, {"accuracy": 0.85}], {"champion": 1})
    client.set_registered_model_alias(model, "challenger", "3")
    flow.commit("pins", {"model_pins.yaml": pins_text(model, 1, 3)})
    proxy = Proxy(mlflow_server.url).start()
    flow.secrets = {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_TOKEN": "write-token-91c2"}
    flow.env = {"MODELPINS_HTTP_RETRIES": "0"}
    try:
        a = merge(flow, "promote-a", model, 2, 21)
        proxy.faults.append(Fault(status=503, match="POST /api/2.0/mlflow/registered-models/alias"))
        failed = flow.act("push", "pins-apply.yml", "apply", push(a))
        assert failed.returncode != 0, failed.log[-3000:]
        assert alias_state(client, [model])[model]["champion"] == 1
        proxy.faults.clear()

        b = merge(flow, "promote-b", model, 3, 22)
        applied = flow.act("push", "pins-apply.yml", "apply", push(b))
        assert applied.returncode == 0, applied.log[-4000:]
        assert alias_state(client, [model])[model]["champion"] == 3
        written = records(client, model)

        proxy.reset()
        rerun = flow.act("push", "pins-apply.yml", "apply", push(a))  # "Re-run failed jobs" on A's run

        assert rerun.returncode == 0, rerun.log[-4000:]
        assert alias_state(client, [model])[model] == {"champion": 3, "challenger": 3}
        assert [w for w in proxy.writes() if w[1].endswith("registered-models/alias")] == []
        assert records(client, model) == written  # no audit record added
        assert f"Applying the head of `main`, `{b[:12]}` (this run was started by {a[:12]}" in rerun.log
        assert "No changes" in rerun.log
    finally:
        proxy.stop()
