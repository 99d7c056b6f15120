"""`gate --base REF --gates-from BASE/model_pins.yaml --no-record`: the pull-request check's gates come
from a checkout of the base commit; a gate the pull request changes is a gate change, not run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.gates.support import seed, tag
from tests.helpers.cli import run
from tests.helpers.seed import unique

SCRIPT = """import json, sys
json.load(sys.stdin)
open("ran-{who}", "w").write("ran")
print(json.dumps({{"passed": True, "value": 1, "detail": "{who} script"}}))
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def pins_text(model: str, champion: int, challenger: int, challenger_min: float = 0.8) -> str:
    return f"""version: 1
owners: ["@acme/ml-platform"]
models:
  {model}:
    aliases:
      champion: {champion}
      challenger: {challenger}
    gates:
      champion:
        - kind: command
          name: probe
          run: [python, gates/probe.py]
      challenger:
        - kind: threshold
          metric: accuracy
          min: {challenger_min}
"""


def pr_with_base_checkout(tmp_path: Path, model: str, head_text: str, head_script: str) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    (repo / "gates").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "model_pins.yaml").write_text(pins_text(model, 1, 1))
    (repo / "gates" / "probe.py").write_text(SCRIPT.format(who="base"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    base = tmp_path / "base"
    git(repo, "worktree", "add", "-q", "--detach", str(base), "main")
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "model_pins.yaml").write_text(head_text)
    (repo / "gates" / "probe.py").write_text(head_script)
    git(repo, "commit", "-qam", "promote")
    return repo, base


def gate(repo: Path, base: Path, uri: str):
    return run(
        "--tracking-uri", uri, "gate", "--base", "main", "--no-record", "--json",
        "--gates-from", base / "model_pins.yaml", cwd=repo,
    )  # fmt: skip


def test_unchanged_gates_run_from_the_base_checkout_and_record_nothing(client, tmp_path, mlflow_server):
    model = unique("trusted")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.9}], {"champion": 1, "challenger": 1})
    repo, base = pr_with_base_checkout(tmp_path, model, pins_text(model, 2, 2), SCRIPT.format(who="base"))

    result = gate(repo, base, mlflow_server.url)

    assert result.returncode == 0, result.stderr
    checks = {c["alias"]: c for c in json.loads(result.stdout)["changes"]}
    assert checks["champion"]["deferred"] is None and checks["champion"]["gates"][0]["detail"] == "base script"
    assert (base / "ran-base").exists() and not (repo / "ran-base").exists()  # ran in the base checkout
    assert tag(client, model, 2, "champion") is None and tag(client, model, 2, "challenger") is None


def test_a_changed_script_or_definition_is_a_gate_change_and_does_not_run(client, tmp_path, mlflow_server):
    model = unique("trusted")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.5}], {"champion": 1, "challenger": 1})
    # The pull request edits the champion's script and lowers the challenger's threshold.
    head = pins_text(model, 2, 2, challenger_min=0.1)
    repo, base = pr_with_base_checkout(tmp_path, model, head, SCRIPT.format(who="head"))

    result = gate(repo, base, mlflow_server.url)

    assert result.returncode == 0, result.stderr
    checks = {c["alias"]: c for c in json.loads(result.stdout)["changes"]}
    for alias in ("champion", "challenger"):
        assert checks[alias]["gates"] == []
        assert checks[alias]["deferred"].startswith("gate change: ")
        assert "Needs review by @acme/ml-platform (CODEOWNERS)" in checks[alias]["deferred"]
    assert not (repo / "ran-head").exists() and not (base / "ran-base").exists()
    table = run("--tracking-uri", mlflow_server.url, "gate", "--base", "main", "--no-record",
                "--gates-from", base / "model_pins.yaml", cwd=repo)  # fmt: skip
    assert "(gate change)" in table.stdout and "2 with a gate change (run after merge)" in table.stdout
