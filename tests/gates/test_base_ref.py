"""`gate --base REF`: gate what the pins file changed since a git ref, in a real temporary repository."""

from __future__ import annotations

import json
import subprocess

from tests.gates.support import seed, tag
from tests.helpers.cli import run
from tests.helpers.seed import unique

GATES = """    gates:
      "*":
        - kind: threshold
          metric: accuracy
          min: 0.85
"""


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def pins_text(model: str, champion: int, challenger: int) -> str:
    head = f"version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: {champion}\n"
    return head + f"      challenger: {challenger}\n" + GATES


def test_base_ref_gates_only_what_the_file_changed(client, tmp_path, mlflow_server):
    model = unique("pr")
    # the registry: champion v1; challenger v2 (0.70) not applied yet, so the registry differs from the base too
    seed(client, model, [{"accuracy": 0.88}, {"accuracy": 0.70}, {"accuracy": 0.91}], {"champion": 1})
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    pins = repo / "model_pins.yaml"
    pins.write_text(pins_text(model, champion=1, challenger=2))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "promote")
    pins.write_text(pins_text(model, champion=3, challenger=2))
    git(repo, "commit", "-qam", "Promote champion to 3")
    report = tmp_path / "gates.md"

    uri = ("--pins", pins, "--tracking-uri", mlflow_server.url)
    pr = run(*uri, "gate", "--base", "main", "--json", "--report", report)
    everything = run(*uri, "gate", "--no-record")
    unchanged = run(*uri, "gate", "--base", "promote", "--report", tmp_path / "out" / "none.md")

    assert pr.returncode == 0, pr.stdout + pr.stderr
    out = json.loads(pr.stdout)
    assert out["base"] == "main"
    assert [(c["alias"], c["from"], c["to"], c["passed"]) for c in out["changes"]] == [("champion", 1, 3, True)]
    assert tag(client, model, 3, "champion")["passed"] is True  # type: ignore[index]
    assert "changes since `main`" in report.read_text()
    # without --base the registry is the baseline: challenger v2 (0.70) moves too, and fails
    assert everything.returncode == 1
    assert f"{model}@challenger v2" in everything.stderr
    assert tag(client, model, 2, "challenger") is None  # --no-record wrote nothing
    assert unchanged.returncode == 0 and unchanged.stdout == "No alias moves to gate.\n"
    assert "no alias moves to gate" in (tmp_path / "out" / "none.md").read_text()


def test_file_absent_at_base_gates_every_alias_and_bad_ref_is_invalid(client, tmp_path, mlflow_server):
    model = unique("new-file")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.9}], {})
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "e"],
        cwd=repo,
        check=True,
    )
    pins = repo / "model_pins.yaml"
    pins.write_text(pins_text(model, champion=1, challenger=2))

    first = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--base", "main", "--json")
    missing = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--base", "origin/main")

    assert first.returncode == 0, first.stderr
    assert [(c["alias"], c["from"], c["to"]) for c in json.loads(first.stdout)["changes"]] == [
        ("champion", None, 1),
        ("challenger", None, 2),
    ]
    assert missing.returncode == 2 and "fetch it first" in missing.stderr
