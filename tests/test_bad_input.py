"""Each bad pins file: exit 2, the file:line and the fix on stderr, and no write reaches MLflow."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.cli import run
from tests.helpers.seed import alias_state, seed_model, unique

HEAD = "version: 1\nmodels:\n  {m}:\n    aliases:\n"

CASES = {
    # name: (pins text, line, words the message must contain)
    "malformed yaml": (HEAD + "      champion: [3\n", 5, "the file ends before this is closed"),
    "tab indentation": (HEAD + "\tchampion: 3\n", 5, "tab"),
    "duplicate alias": (HEAD + "      champion: 2\n      champion: 3\n", 6, "duplicate key 'champion'"),
    "duplicate model": (HEAD + "      champion: 2\n  {m}:\n    aliases: {{}}\n", 6, "duplicate key"),
    "unknown model field": (HEAD + "      champion: 2\n    owner: ['@a']\n", 6, "unknown field 'owner'"),
    "unknown top field": ("versoin: 1\n" + HEAD[11:] + "      champion: 2\n", 1, "did you mean 'version'"),
    "reserved alias latest": (HEAD + "      latest: 2\n", 5, "reserved"),
    "reserved alias v12": (HEAD + "      V12: 2\n", 5, "reserved"),
    "alias bad characters": (HEAD + "      champ.ion: 2\n", 5, "not allowed"),
    "alias too long": (HEAD + "      " + "a" * 256 + ": 2\n", 5, "not allowed"),
    "alias read as boolean": (HEAD + "      on: 2\n", 5, "boolean"),
    "version zero": (HEAD + "      champion: 0\n", 5, "out of range"),
    "version negative": (HEAD + "      champion: -3\n", 5, "out of range"),
    "version quoted": (HEAD + "      champion: '3'\n", 5, "whole number"),
    "version float": (HEAD + "      champion: 3.5\n", 5, "whole number"),
    "version huge": (HEAD + "      champion: 99999999999999999999999\n", 5, "out of range"),
    "anchor and alias": (HEAD + "      champion: &v 2\n      challenger: *v\n", 5, "anchors"),
    "aliases not a mapping": (HEAD.replace("    aliases:\n", "    aliases: [2]\n"), 4, "mapping"),
    "unsupported schema version": (HEAD.replace("version: 1", "version: 2") + "      a: 1\n", 1, "not supported"),
    "missing models": ("version: 1\n", 1, "missing required field 'models'"),
    "empty file": ("", 1, "empty"),
    "look-alike model name": (HEAD.replace("{m}", "{m}-\u0441") + "      champion: 1\n", 3, "not allowed"),
    # a pattern's `$` must not let a trailing line break through; the message shows it as an escape, on one line
    "model name ending in a line break": (
        HEAD.replace("{m}:", '"{m}\\n":') + "      champion: 1\n",
        3,
        "\\n' is not allowed",
    ),
    "owner ending in a line break": (
        HEAD.replace("aliases:", 'owners: ["@acme/risk-ml\\n"]\n    aliases:') + "      champion: 1\n",
        4,
        "'@acme/risk-ml\\n' in owners",
    ),
}


@pytest.fixture(scope="module")
def model(client) -> str:
    name = unique("bad-input")
    seed_model(client, name, 3, {"champion": 1})
    return name


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_line_and_writes_nothing(case, model, client, proxy, tmp_path):
    text, line, words = CASES[case]
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text.replace("{m}", model).replace("{{}}", "{}"))
    before = alias_state(client, [model])

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert result.returncode == 2, result.stderr
    assert f"{pins}:{line}:" in result.stderr
    assert words.lower() in result.stderr.lower()
    assert "fix:" in result.stderr
    assert proxy.writes() == []
    assert alias_state(client, [model]) == before


def test_missing_version_in_registry_names_line_and_writes_nothing(model, client, proxy, tmp_path):
    pins = tmp_path / "model_pins.yaml"
    # the first alias is fine, the second points at a version that does not exist:
    pins.write_text(HEAD.replace("{m}", model) + "      champion: 2\n      challenger: 42\n")
    before = alias_state(client, [model])
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert result.returncode == 2
    assert f"{pins}:6: version 42 of '{model}' does not exist" in result.stderr
    assert proxy.writes() == []
    assert alias_state(client, [model]) == before


def test_missing_model_in_registry(model, client, proxy, tmp_path):
    ghost = unique("never-registered")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", model) + f"      champion: 2\n  {ghost}:\n    aliases:\n      champion: 1\n")
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert result.returncode == 2
    assert f"{pins}:6: registered model '{ghost}' does not exist" in result.stderr
    assert proxy.writes() == []


def test_validate_offline_needs_no_server(tmp_path):
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", "any-model") + "      champion: 2\n")
    ok = run("--pins", pins, "validate", env={"MLFLOW_TRACKING_URI": ""})
    assert ok.returncode == 0 and "valid" in ok.stdout
    pins.write_text(HEAD.replace("{m}", "any-model") + "      latest: 2\n")
    bad = run("--pins", pins, "validate", env={"MLFLOW_TRACKING_URI": ""})
    assert bad.returncode == 2 and f"{pins}:5:" in bad.stderr


def test_all_problems_are_reported_at_once(tmp_path):
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", "m") + "      latest: 2\n      champion: 0\n    colour: red\n")
    result = run("--pins", pins, "validate", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 2
    assert "3 problems found" in result.stderr
    for line in (5, 6, 7):
        assert f"{pins}:{line}:" in result.stderr


def test_missing_pins_file_is_invalid_input(tmp_path):
    result = run("--pins", tmp_path / "nope.yaml", "validate", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 2 and "file not found" in result.stderr


def test_endless_stream_as_pins_file_is_refused_after_the_cap(tmp_path):
    """`--pins /dev/zero` used to be read whole (the process was OOM-killed); the cap applies while reading."""
    result = run("--pins", "/dev/zero", "validate", "--offline", env={"MLFLOW_TRACKING_URI": ""}, timeout=60)
    assert result.returncode == 2
    assert "/dev/zero:1: file is larger than 4 MiB" in result.stderr and "fix:" in result.stderr


def test_validate_offline_runs_the_serving_rules(tmp_path):
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(
        "version: 1\nmodels:\n  m:\n    aliases: {champion: 1, challenger: 2}\n"
        "environments:\n  prod: {namespace: prod}\n"
        "deployments:\n  m:\n    environment: prod\n    serve: [m@champion]\n"
        "    strategy: {type: canary, candidate: [m@challenger], weight: 10}\n"
    )
    result = run("--pins", pins, "validate", "--offline", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 2
    assert f"{pins}:11:" in result.stderr and "no gateway" in result.stderr and "fix:" in result.stderr


MALFORMED_URIS = {
    # case: (URI, words the message must contain); each used to exit 3 ("this is a bug") or print a traceback
    "port 99999": ("http://127.0.0.1:99999", "port out of range"),
    "a space in the host": ("http://127.0.0.1 :5000", "a space or a control character"),
    "a line break": ("http://127.0.0.1:5000\nx", "a space or a control character"),
    "a trailing space": ("http://127.0.0.1:5000 ", "a space or a control character"),
    "an unclosed IPv6 bracket": ("http://[::1", "invalid ipv6 url"),
    "no host": ("http://:5000", "names no host"),
    "a port that is not a number": ("http://127.0.0.1:abc", "not a url"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_URIS))
@pytest.mark.parametrize("given", ["variable", "option"])
def test_a_malformed_tracking_uri_exits_2_naming_where_it_came_from(case, given, tmp_path):
    uri, words = MALFORMED_URIS[case]
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", "any-model") + "      champion: 2\n")
    if given == "variable":
        result = run("--pins", pins, "plan", env={"MLFLOW_TRACKING_URI": uri})
    else:
        result = run("--pins", pins, "--tracking-uri", uri, "plan", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 2, result.stderr
    name = "MLFLOW_TRACKING_URI=" if given == "variable" else "--tracking-uri="
    assert result.stderr.startswith(f"error: {name}{uri!r} is not allowed"), result.stderr
    assert words in result.stderr.lower() and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_upper_case_scheme_is_accepted(client, proxy, tmp_path):
    """Schemes are case-insensitive (RFC 3986): `HTTP://` reaches the server as `http://` does."""
    pins = tmp_path / "model_pins.yaml"
    model = unique("upper-scheme")
    seed_model(client, model, 1, {"champion": 1})
    pins.write_text(HEAD.replace("{m}", model) + "      champion: 1\n")
    result = run("--pins", pins, "plan", env={"MLFLOW_TRACKING_URI": proxy.url.replace("http://", "HTTP://")})
    assert result.returncode == 0, result.stderr
    assert proxy.reads(), "the server was asked"


def test_a_malformed_tracking_uri_does_not_stop_offline_validation(tmp_path):
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", "any-model") + "      champion: 2\n")
    result = run("--pins", pins, "validate", "--offline", env={"MLFLOW_TRACKING_URI": "http://[::1"})
    assert result.returncode == 0, result.stderr


HOSTILE = "ok\n::error::forged by the registry\n::stop-commands::pwned\n\x1b]52;c;cm0gLXJmIH4=\x07 ##[error]x"


def test_hostile_registry_text_is_escaped_in_every_output(client, mlflow_server, tmp_path):
    """A run name, description, param, dataset and forged audit actor carrying line breaks, runner commands and
    an OSC 52 clipboard write: no output line is a runner command, no escape sequence reaches the terminal."""
    import json

    from mlflow import MlflowClient

    model = unique("hostile")
    seed_model(client, model, 2, {"champion": 2})
    mc = MlflowClient(mlflow_server.url)
    run_id = mc.get_model_version(model, "2").run_id
    assert run_id
    mc.update_model_version(model, "2", description=HOSTILE)
    mc.set_tag(run_id, "mlflow.runName", HOSTILE)
    mc.log_param(run_id, "dataset", HOSTILE[:200])
    forged = {"action": "move", "alias": "champion", "from": 1, "to": 2, "at": "2026-01-01T00:00:00Z", "actor": HOSTILE}
    mc.set_model_version_tag(model, "2", "modelpins.audit.champion.20260101T000000Z", json.dumps(forged))
    mc.set_model_version_tag(model, "2", "modelpins.gates.champion", HOSTILE)
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD.replace("{m}", model) + "      champion: 2\n")
    env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # history reads the file's git history

    results = [
        run("--pins", pins, *args, cwd=tmp_path, env=env)
        for args in (
            ["status"],
            ["history", f"{model}@champion"],
            ["lineage", f"{model}@champion"],
            ["card", f"{model}@champion", "--no-attach", "--out", "card.md"],
        )
    ]
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    card = (tmp_path / "card.md").read_text()
    shown = {" ".join(r.args[5:]): r.stdout + r.stderr for r in results} | {"card.md": card}
    assert "forged by the registry" in shown["status"], "the actor is shown, escaped"
    assert "forged by the registry" in shown[f"lineage {model}@champion"], "the run name is shown, escaped"
    for where, out in shown.items():
        log = where != "card.md"  # a file: `##[` inside a markdown line is text there
        commands = [line for line in out.splitlines() if line.strip().startswith("::") or (log and "##[" in line)]
        assert commands == [], f"{where} printed runner commands: {commands}"
        assert "\x1b]" not in out and "\x07" not in out, f"{where} let an escape sequence through"
    assert "\\x1b]52" in shown[f"lineage {model}@champion"], "the escape is shown, visibly"
