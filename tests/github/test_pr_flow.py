"""The pull-request workflow's steps, run locally as the workflow runs them: a real git repository
(base branch `main`, PR branch `promote`) and the real MLflow server."""

from __future__ import annotations

import json

from tests.github.conftest import line_of
from tests.helpers.cli import run
from tests.helpers.keys import key_pair
from tests.helpers.seed import alias_state, seed_model, unique


def pins_text(model: str, champion: int, challenger: int, owners: str = '["@alice"]') -> str:
    return (
        "version: 1\n"
        'owners: ["@acme/ml-platform"]\n'
        "models:\n"
        f"  {model}:\n"
        f"    owners: {owners}\n"
        "    aliases:\n"
        f"      champion: {champion}\n"
        f"      challenger: {challenger}\n"
    )


def actions_env(tmp_path, **extra):
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    env |= {"GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "77", "GITHUB_SHA": "c0ffee" * 6 + "abcd"}
    return env | extra, summary, output


def test_promotion_pr_plan_report_and_summary(client, mlflow_server, pr_repo, tmp_path):
    model = unique("credit-risk")
    # The registry's champion was moved by hand to 1; main says 2.
    seed_model(client, model, 4, {"champion": 1, "challenger": 3})
    repo = pr_repo(pins_text(model, 2, 3))
    head = pins_text(model, 3, 4)
    repo.commit(head, "Promote challenger")
    env, summary, output = actions_env(tmp_path)
    before = alias_state(client, [model])

    validate = run("validate", "--offline", cwd=repo.root, env=env)
    assert validate.returncode == 0, validate.stderr

    plan = run(
        "--tracking-uri", mlflow_server.url, "plan", "--base", "main", "--markdown", tmp_path / "plan.md",
        cwd=repo.root, env=env,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert f"| move | `{model}` | `challenger` | 3 | 4 | 3 |" in (tmp_path / "plan.md").read_text()
    assert f"{model}  champion    2     3   move" in plan.stdout
    assert f"{model}  challenger  3     4   move" in plan.stdout
    assert "2 alias changes relative to main." in plan.stdout
    assert f"note: {model}@champion is 1 in the registry, 2 at main" in plan.stdout

    gates = tmp_path / "gates.md"
    gates.write_text("| Model | Alias | Gate | Result |\n|---|---|---|---|\n| m | champion | accuracy | pass |\n")
    rep = run(
        "--tracking-uri", mlflow_server.url, "report", "--base", "main",
        "--gates", gates, "--gates-outcome", "success", "--out", tmp_path / "comment.md",
        cwd=repo.root, env=env,
    )  # fmt: skip
    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "comment.md").read_text()
    champion_line = line_of(head, "champion:")
    assert body.startswith("### modelpins: ✅ ready for review")
    assert "**Validation**: ✅ `model_pins.yaml` is valid" in body
    assert "**Plan**: 2 alias changes relative to `main`" in body
    assert (
        f"| move | `{model}` | `champion` | 2 | 3 | 1 ⚠️ differs from base | `model_pins.yaml:{champion_line}` |" in body
    )
    assert f"| move | `{model}` | `challenger` | 3 | 4 | 3 | `model_pins.yaml:{champion_line + 1}` |" in body
    assert f"- `{model}`: `@alice`" in body  # the owner, in code so nobody is pinged
    assert "| m | champion | accuracy | pass |" in body  # the gate table, as `gate --report` wrote it
    assert "[workflow run](https://github.com/acme/models/actions/runs/77)" in body
    assert summary.read_text().strip() == body.strip()
    assert "report<<" in output.read_text() and str(tmp_path / "comment.md") in output.read_text()
    assert alias_state(client, [model]) == before  # a PR check never writes to the registry


def test_comment_links_the_model_card_of_each_target_version(client, mlflow_server, pr_repo, tmp_path):
    model = unique("carded")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    client.set_model_version_tag(model, "3", "modelpins.card", f"runs:/x/model_card/{model}-v3.md")
    repo = pr_repo(pins_text(model, 2, 3))
    repo.commit(pins_text(model, 3, 4), "Promote challenger")
    env, _, _ = actions_env(tmp_path)

    rep = run(
        "--tracking-uri", mlflow_server.url, "report", "--base", "main", "--out", tmp_path / "comment.md",
        cwd=repo.root, env=env,
    )  # fmt: skip

    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "comment.md").read_text()
    assert "**Model cards**" in body
    assert f"- `{model}@champion` v3: [model card]({mlflow_server.url}/#/models/{model}/versions/3)" in body
    assert f"- `{model}@challenger` v4: no card yet (`modelpins card {model}@challenger`)" in body


def test_comment_shows_the_signature_state_of_each_target_version(client, mlflow_server, pr_repo, tmp_path):
    model = unique("signedpr")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    private, _ = key_pair(tmp_path / "keys", "release")
    signed = run("--tracking-uri", mlflow_server.url, "sign", f"{model}/3", "--key", private)
    assert signed.returncode == 0, signed.stderr
    signer = json.loads(client.get_model_version(model, "3").tags["modelpins.signature"])["signer"]
    repo = pr_repo(pins_text(model, 2, 3))
    repo.commit(pins_text(model, 3, 4), "Promote challenger")
    env, _, _ = actions_env(tmp_path)

    rep = run(
        "--tracking-uri", mlflow_server.url, "report", "--base", "main", "--out", tmp_path / "comment.md",
        cwd=repo.root, env=env,
    )  # fmt: skip

    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "comment.md").read_text()
    assert f"- `{model}@champion` v3: signed by {signer} (key, bundle digest sha256:" in body
    assert f"- `{model}@challenger` v4: ⚠️ unsigned" in body


def test_version_missing_from_registry_is_annotated_at_its_line(client, mlflow_server, pr_repo, tmp_path):
    model = unique("missing-version")
    seed_model(client, model, 3, {"champion": 1, "challenger": 2})
    repo = pr_repo(pins_text(model, 1, 2))
    head = pins_text(model, 1, 42)
    repo.commit(head, "Promote a version that does not exist")
    env, _, _ = actions_env(tmp_path)
    line = line_of(head, "challenger:")

    plan = run("--tracking-uri", mlflow_server.url, "plan", "--base", "main", cwd=repo.root, env=env)

    assert plan.returncode == 2
    assert f"::error file=model_pins.yaml,line={line}::version 42 of '{model}' does not exist" in plan.stdout
    rep = run(
        "--tracking-uri", mlflow_server.url, "report", "--base", "main", "--out", tmp_path / "c.md",
        cwd=repo.root, env=env,
    )  # fmt: skip
    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "c.md").read_text()
    assert body.startswith("### modelpins: ❌ not ready to merge")
    assert f"- `model_pins.yaml:{line}` version 42 of '{model}' does not exist in MLflow." in body
    assert "Not run: fix the problems above first." in body


def test_invalid_file_fails_validate_with_every_line_annotated(pr_repo, tmp_path):
    base = pins_text("m", 1, 2)
    repo = pr_repo(base)
    head = base.replace("      champion: 1\n      challenger: 2\n", "      latest: 2\n      champion: 0\n")
    repo.commit(head, "broken")
    env, summary, _ = actions_env(tmp_path)

    validate = run("validate", "--offline", cwd=repo.root, env=env)

    assert validate.returncode == 2
    latest, zero = line_of(head, "latest:"), line_of(head, "champion: 0")
    assert f"::error file=model_pins.yaml,line={latest}::alias 'latest' is reserved" in validate.stdout
    assert f"::error file=model_pins.yaml,line={zero}::" in validate.stdout
    rep = run("report", "--base", "main", "--out", tmp_path / "c.md", cwd=repo.root, env=env)
    assert rep.returncode == 0
    body = (tmp_path / "c.md").read_text()
    assert "**Validation**: ❌ 2 problems" in body
    assert f"`model_pins.yaml:{latest}` alias 'latest' is reserved" in body
    assert "### modelpins: ❌ not ready to merge" in summary.read_text()
    assert "no alias changes" not in body  # no plan was made of an invalid file
    assert "**Plan**: not made: fix the problems above first." in body


def test_without_registry_access_the_plan_is_file_against_base(pr_repo, tmp_path):
    """What a pull request from a fork gets: no registry credentials, the rest still works."""
    repo = pr_repo(pins_text("m", 1, 2))
    repo.commit(pins_text("m", 2, 2), "promote")
    env, _, _ = actions_env(tmp_path, MLFLOW_TRACKING_URI="")

    plan = run("plan", "--base", "main", "--json", cwd=repo.root, env=env)
    assert plan.returncode == 0, plan.stderr
    assert '"from": 1' in plan.stdout and '"to": 2' in plan.stdout and '"registry"' not in plan.stdout

    rep = run(
        "report", "--base", "main", "--gates", tmp_path / "none.md", "--out", tmp_path / "c.md", cwd=repo.root, env=env
    )
    body = (tmp_path / "c.md").read_text()
    assert rep.returncode == 0
    assert "Registry now" not in body
    assert "| move | `m` | `champion` | 1 | 2 | `model_pins.yaml:7` |" in body
    assert body.startswith("### modelpins: ⏳ gates have not passed yet")
    assert "Not run in this check" in body
    assert "This comment is updated on every push" in body

    # A fork's check posts no comment: its job summary does not speak of one.
    rep = run("report", "--base", "main", "--no-comment", "--out", tmp_path / "s.md", cwd=repo.root, env=env)
    assert rep.returncode == 0, rep.stderr
    assert "comment" not in (tmp_path / "s.md").read_text().lower()


def test_no_change_to_aliases_is_ready(pr_repo, tmp_path):
    text = pins_text("m", 1, 2)
    repo = pr_repo(text)
    repo.commit(text + "# a comment only\n", "comment")
    rep = run("report", "--base", "main", "--out", tmp_path / "c.md", cwd=repo.root, env={"MLFLOW_TRACKING_URI": ""})
    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "c.md").read_text()
    assert "✅ ready for review" in body and "no alias changes relative to `main`" in body


def test_unknown_base_ref_is_invalid_input(pr_repo, tmp_path):
    repo = pr_repo(pins_text("m", 1, 2))
    plan = run("plan", "--base", "origin/nope", cwd=repo.root, env={"MLFLOW_TRACKING_URI": ""})
    assert plan.returncode == 2 and "fetch it first" in plan.stderr


def test_failed_gates_make_the_report_not_ready(pr_repo, tmp_path):
    repo = pr_repo(pins_text("m", 1, 2))
    repo.commit(pins_text("m", 2, 2), "promote")
    gates = tmp_path / "gates.md"
    gates.write_text("| m | champion | accuracy 0.80 < 0.85 | fail |\n")
    rep = run(
        "report", "--base", "main", "--gates", gates, "--gates-outcome", "failure", "--out", tmp_path / "c.md",
        cwd=repo.root, env={"MLFLOW_TRACKING_URI": ""},
    )  # fmt: skip
    assert rep.returncode == 0, rep.stderr
    body = (tmp_path / "c.md").read_text()
    assert body.startswith("### modelpins: ❌ not ready to merge")
    assert "| m | champion | accuracy 0.80 < 0.85 | fail |" in body


def test_new_pins_file_plans_every_alias_as_set(tmp_path):
    from tests.github.conftest import git

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=d@example.com", "-c", "user.name=d", "commit", "-q", "--allow-empty", "-m", "empty")
    (repo / "model_pins.yaml").write_text(pins_text("m", 1, 2))
    plan = run("plan", "--base", "main", cwd=repo, env={"MLFLOW_TRACKING_URI": ""})
    assert plan.returncode == 0, plan.stderr
    assert "m      champion    -     1   set" in plan.stdout and "2 alias changes relative to main." in plan.stdout
