"""Edge inputs that must exit 2 with a clear message, never 3 and never hang (issue 29, items 10 and 18 to 21).

Each runs the real CLI; none needs a registry: every one is refused before the first request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.cli import run

SECRET = {"MODELPINS_WEBHOOK_SECRET": "a-webhook-secret-of-enough-length"}
NO_SERVER = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # nothing listens: a request would fail, not hang
OFFLINE = {"MLFLOW_TRACKING_URI": ""}  # validate checks the file alone
PINS = "version: 1\nmodels:\n  m:\n    aliases:\n      champion: 1\n"


@pytest.mark.parametrize(
    "args",
    [
        ("apply", "--yes", "--lock-timeout", "nan"),
        ("apply", "--yes", "--lock-timeout", "inf"),
        ("apply", "--yes", "--lock-timeout", "-1"),
        ("webhook", "serve", "--on-drift-timeout", "nan"),
        ("webhook", "serve", "--request-timeout", "-inf"),
    ],
)
def test_non_finite_and_negative_numbers_are_refused(args: tuple[str, ...], tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS)

    result = run("--pins", pins, *args, env={**NO_SERVER, **SECRET}, timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"Invalid value for '{args[-2]}'" in result.stderr
    assert "waiting up to" not in result.stdout + result.stderr


def test_on_drift_with_an_unclosed_quote_is_invalid_input(tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS)

    result = run("--pins", pins, "webhook", "serve", "--on-drift", "python '", env={**NO_SERVER, **SECRET}, timeout=60)

    assert result.returncode == 2, result.stderr
    assert '--on-drift "python \'": No closing quotation' in result.stderr and "close every quote" in result.stderr


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("render", "--out", "m")])
def test_pins_naming_a_pipe_exits_2_without_waiting(command: tuple[str, ...], tmp_path: Path) -> None:
    fifo = tmp_path / "pins.fifo"
    os.mkfifo(fifo)

    result = run("--pins", fifo, *command, cwd=tmp_path, env=NO_SERVER, timeout=60)

    assert result.returncode == 2, result.stderr
    assert f"{fifo} is a named pipe, not a file" in result.stderr


ENV = "environments:\n  prod:\n    namespace: ml-prod\n    registry:\n      model: {model}\n"


def test_the_registry_model_hint_is_one_to_follow(tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS + ENV.format(model="prod"))

    result = run("--pins", pins, "validate", env=OFFLINE)

    assert result.returncode == 2, result.stderr
    assert "registry model 'prod' must contain '{model}'" in result.stderr and "'model: prod.{model}'" in result.stderr
    assert "{{" not in result.stderr
    pins.write_text(PINS + ENV.format(model="prod.{{model}}"))  # what the old hint said: a name MLflow never has
    doubled = run("--pins", pins, "validate", env=OFFLINE)
    assert doubled.returncode == 2 and "must contain '{model}' once" in doubled.stderr
    pins.write_text(PINS + ENV.format(model="prod.{model}"))
    assert run("--pins", pins, "validate", env=OFFLINE).returncode == 0


def test_an_unquoted_1e12_is_not_told_to_drop_quotes(tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    gate = "    gates:\n      champion:\n        - {kind: command, name: x, run: [python, x.py], timeout: 1e12}\n"
    pins.write_text(PINS + gate)

    result = run("--pins", pins, "validate", env=OFFLINE)

    assert result.returncode == 2, result.stderr
    assert "timeout of command gate must be a number, not text" in result.stderr
    assert "without quotes" not in result.stderr and "YAML reads 1e12 as text" in result.stderr


def test_a_missing_namespace_is_reported_once_not_as_an_undeclared_environment(tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    env_pin = "    environments:\n      prod:\n        champion: 1\n"
    pins.write_text(PINS + env_pin + "environments:\n  prod:\n    registry:\n      model: prod.{model}\n")

    result = run("--pins", pins, "validate", env=OFFLINE)

    assert result.returncode == 2, result.stderr
    assert "environment 'prod' is missing required field 'namespace'" in result.stderr
    assert "fix: add 'namespace: ...'" in result.stderr
    assert "not declared" not in result.stderr and "1 problem found" in result.stderr


@pytest.mark.parametrize("repository", ["../x", "acme/..", "./x", "-x/y"])
def test_github_repository_must_be_owner_slash_name(repository: str, tmp_path: Path) -> None:
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS)

    result = run("--pins", pins, "status", env={**NO_SERVER, "GITHUB_REPOSITORY": repository})

    assert result.returncode == 2, result.stderr
    assert f"GITHUB_REPOSITORY={repository!r} is not allowed: OWNER/NAME" in result.stderr
