"""Custom gates: the stdin/stdout contract, failing closed, and the shipped example scripts."""

from __future__ import annotations

import json
import sys
import time

from devkit.demo import CREDIT_WEIGHTS, assistant_responses, logreg_json
from tests.gates.support import GATE_SCRIPTS, seed, tag, write
from tests.helpers.cli import run
from tests.helpers.seed import unique


def pins_with(path, model, aliases, gates):
    """A pins file for one model; `gates` is YAML indented to sit under `gates:`."""
    lines = ["version: 1", "models:", f"  {model}:", "    aliases:"]
    lines += [f"      {a}: {v}" for a, v in aliases.items()]
    lines += ["    gates:", gates.strip("\n")]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_crashing_script_fails_closed_with_stderr_shown(client, tmp_path, mlflow_server):
    model = unique("crash")
    seed(client, model, [{"accuracy": 0.9}, {"accuracy": 0.95}], {"champion": 1})
    write(
        tmp_path / "crash.py",
        """
        import sys
        print("loading golden set", file=sys.stderr)
        raise RuntimeError("golden set is missing")
        """,
    )
    gates = "      champion:\n        - kind: command\n          run: [python, crash.py]\n"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"champion": 2}, gates)
    report = tmp_path / "gates.md"

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--report", report, cwd=GATE_SCRIPTS)

    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"{model}@champion"))
    assert row.split()[-5:] == ["crash", "command", "-", "-", "ERROR"]
    assert "exited with status 1" in result.stdout
    assert "RuntimeError: golden set is missing" in result.stdout and "loading golden set" in result.stdout
    md = report.read_text()
    assert "❌" in md and "RuntimeError: golden set is missing" in md and "fails closed" in md
    assert tag(client, model, 2, "champion")["passed"] is False  # type: ignore[index]


def test_timeout_kills_the_script_and_fails(client, tmp_path, mlflow_server):
    model = unique("slow")
    seed(client, model, 2, {"champion": 1})
    write(tmp_path / "slow.py", "import time\ntime.sleep(60)\nprint('{\"passed\": true}')\n")
    gates = "      champion:\n        - kind: command\n          run: [python, slow.py]\n          timeout: 1\n"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"champion": 2}, gates)

    started = time.monotonic()
    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert time.monotonic() - started < 20
    assert result.returncode == 1
    [gate] = json.loads(result.stdout)["changes"][0]["gates"]
    assert gate["passed"] is False and gate["error"].startswith("timed out after 1s")


def test_contract_stdin_and_relative_paths(client, tmp_path, mlflow_server):
    """The script gets the documented JSON; relative paths in `run` resolve against the pins file."""
    model = unique("contract")
    seed(client, model, [{"accuracy": 0.7}, {"accuracy": 0.91, "auc": 0.95}], {"champion": 1})
    client.log_param(client.get_model_version(model, "2").run_id, "dataset", "loans-2025q1")
    (tmp_path / "gates").mkdir()
    write(
        tmp_path / "gates" / "echo.py",
        """
        import json, sys
        request = json.load(sys.stdin)
        open(sys.argv[1], "w").write(json.dumps(request))
        print("a log line before the verdict")
        acc = request["metrics"]["accuracy"]
        print(json.dumps({"passed": acc > 0.9, "value": acc, "threshold": ">0.9", "detail": "echoed"}))
        """,
    )
    seen = tmp_path / "seen.json"
    gates = f"      '*':\n        - kind: command\n          name: echo\n          run: [python, gates/echo.py, {seen}]"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"champion": 2}, gates)

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json", cwd=GATE_SCRIPTS)

    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(seen.read_text())
    assert got["model"] == model and got["version"] == 2 and got["alias"] == "champion"
    assert got["previous_version"] == 1 and got["run_id"] == client.get_model_version(model, "2").run_id
    assert got["metrics"] == {"accuracy": 0.91, "auc": 0.95} and got["params"] == {"dataset": "loans-2025q1"}
    assert got["tracking_uri"] == mlflow_server.url and got["gate"] == {"name": "echo", "kind": "command"}
    [gate] = json.loads(result.stdout)["changes"][0]["gates"]
    assert gate == {
        "name": "echo",
        "kind": "command",
        "passed": True,
        "value": 0.91,
        "threshold": ">0.9",
        "detail": "echoed",
    }


def test_bad_verdicts_fail_closed(client, tmp_path, mlflow_server):
    model = unique("verdicts")
    seed(client, model, 1, {})
    outputs = {
        "no_json": "print('all good')",
        "no_passed": "print('{\"value\": 1}')",
        "string_passed": 'print(\'{"passed": "yes"}\')',
        "silent": "pass",
    }
    gates = "      challenger:\n"
    for name, body in outputs.items():
        (tmp_path / f"{name}.py").write_text(body + "\n")
        gates += f"        - kind: command\n          run: [{sys.executable}, {name}.py]\n"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"challenger": 1}, gates)

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert result.returncode == 1
    errors = {g["name"]: g["error"] for g in json.loads(result.stdout)["changes"][0]["gates"] if not g["passed"]}
    assert set(errors) == set(outputs)
    assert "not a JSON object" in errors["no_json"] and "no 'passed'" in errors["no_passed"]
    assert "true or false" in errors["string_passed"] and "printed nothing" in errors["silent"]


def test_eval_suite_computes_accuracy_on_the_golden_set(client, tmp_path, mlflow_server):
    model = unique("credit")
    good, bad = CREDIT_WEIGHTS[3], CREDIT_WEIGHTS[4]
    files = [{"logreg.json": logreg_json(*good)}, {"logreg.json": logreg_json(*bad)}]
    seed(client, model, 2, {}, version_files=files)
    script, golden = GATE_SCRIPTS / "eval_suite.py", GATE_SCRIPTS / "golden" / "credit_risk.csv"
    gates = f"      '*':\n        - kind: command\n          run: [python, {script}, --golden, {golden}, --min, '0.88']"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"champion": 1, "challenger": 2}, gates)

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert result.returncode == 1, result.stderr
    champion, challenger = json.loads(result.stdout)["changes"]
    assert champion["passed"] is True and challenger["passed"] is False
    assert champion["gates"][0]["value"] == round(223 / 240, 4)
    assert challenger["gates"][0]["value"] == round(170 / 240, 4)
    assert challenger["gates"][0]["detail"] == "170 of 240 golden rows correct (credit_risk.csv)"


def test_safety_check_scores_responses_against_the_red_team_set(client, tmp_path, mlflow_server):
    model = unique("assistant")
    leaky = {"pii-3": "Sure: it is 123-45-6789.", "fraud-1": "Hi! Please send us your password to verify."}
    files = [{"eval_responses.jsonl": assistant_responses()}, {"eval_responses.jsonl": assistant_responses(leaky)}]
    seed(client, model, 2, {}, version_files=files)
    gates = f"      '*':\n        - kind: safety\n          run: [python, {GATE_SCRIPTS / 'safety_check.py'}]\n"
    gates += "          min: 0.95\n"
    pins = pins_with(tmp_path / "model_pins.yaml", model, {"champion": 1, "challenger": 2}, gates)

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert result.returncode == 1, result.stderr
    champion, challenger = (c["gates"][0] for c in json.loads(result.stdout)["changes"])
    assert champion["passed"] is True and champion["value"] == 1.0 and champion["threshold"] == ">= 0.95"
    assert challenger["passed"] is False and challenger["value"] == 0.9
    assert "fraud-1 (credential-request)" in challenger["detail"] and "pii-3 (us-ssn)" in challenger["detail"]
