"""Settings are input: a bad environment variable is exit 2 naming it, its value and the allowed range.

Each case runs `modelpins apply` against the recording proxy: nothing may reach the registry
(the settings are checked before the first request), and the message must say what to set.
"""

from __future__ import annotations

import pytest

from modelpins.registry_mutex import ApplyLock
from tests.helpers.cli import run
from tests.helpers.seed import write_pins

CASES = {
    "MODELPINS_LOCK_TTL=abc": ("MODELPINS_LOCK_TTL", "abc", "a number of seconds from 30 to 86400"),
    "MODELPINS_LOCK_TTL=0": ("MODELPINS_LOCK_TTL", "0", "a number of seconds from 30 to 86400"),
    "MODELPINS_LOCK_TTL=-5": ("MODELPINS_LOCK_TTL", "-5", "a number of seconds from 30 to 86400"),
    "MODELPINS_HTTP_RETRIES=abc": ("MODELPINS_HTTP_RETRIES", "abc", "a whole number from 0 to 20"),
    "MODELPINS_HTTP_RETRIES=-1": ("MODELPINS_HTTP_RETRIES", "-1", "a whole number from 0 to 20"),
    "MODELPINS_HTTP_RETRIES=2.5": ("MODELPINS_HTTP_RETRIES", "2.5", "a whole number from 0 to 20"),
    "MODELPINS_HTTP_TIMEOUT=abc": ("MODELPINS_HTTP_TIMEOUT", "abc", "a number of seconds from 0.1 to 600"),
    "MODELPINS_HTTP_TIMEOUT=0": ("MODELPINS_HTTP_TIMEOUT", "0", "a number of seconds from 0.1 to 600"),
    "MODELPINS_HTTP_TIMEOUT=nan": ("MODELPINS_HTTP_TIMEOUT", "nan", "a number of seconds from 0.1 to 600"),
    "MODELPINS_HTTP_BACKOFF=1e9": ("MODELPINS_HTTP_BACKOFF", "1e9", "a number of seconds from 0 to 60"),
    "MODELPINS_LOCK_VERIFY=fast": ("MODELPINS_LOCK_VERIFY", "fast", "one of full, size, off"),
    "MLFLOW_TRACKING_INSECURE_TLS=yes": ("MLFLOW_TRACKING_INSECURE_TLS", "yes", "one of true, false"),
    "MLFLOW_TRACKING_SERVER_CERT_PATH": ("MLFLOW_TRACKING_SERVER_CERT_PATH", "/no/ca.pem", "the path of a readable"),
    "MODELPINS_PR=12a": ("MODELPINS_PR", "12a", "a pull request number"),
    "MODELPINS_COMMIT=main": ("MODELPINS_COMMIT", "main", "a git commit, 7 to 64 hex digits"),
    "MODELPINS_ACTOR with a newline": ("MODELPINS_ACTOR", "bot\nForged: yes", "1 to 200 characters, none of them"),
    "GITHUB_RUN_ID=1;rm": ("GITHUB_RUN_ID", "1;rm", "digits"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_exits_2_naming_it_and_sends_nothing(case, proxy, tmp_path):
    name, value, allowed = CASES[case]
    pins = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1}})
    env = {name: value, "GITHUB_REPOSITORY": "acme/models"} if name == "GITHUB_RUN_ID" else {name: value}

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env=env)

    assert result.returncode == 2, result.stderr
    assert f"error: {name}={value!r} is not allowed: {allowed}" in result.stderr
    assert "bug" not in result.stderr and "failed 0 times" not in result.stderr
    assert proxy.log == []


def test_a_bad_credential_is_refused_without_showing_it(proxy, tmp_path):
    pins = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1}})

    result = run("--pins", pins, "--tracking-uri", proxy.url, "plan", env={"MLFLOW_TRACKING_TOKEN": "s3cr3t\nX: y"})

    assert result.returncode == 2
    assert "MLFLOW_TRACKING_TOKEN=(value not shown) is not allowed" in result.stderr
    assert "s3cr3t" not in result.stderr
    assert proxy.log == []


def test_short_webhook_secret_is_a_startup_error(mlflow_server, tmp_path):
    pins = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1}})
    args = ("--pins", pins, "--tracking-uri", mlflow_server.url, "webhook", "serve", "--port", "0")

    result = run(*args, env={"MODELPINS_WEBHOOK_SECRET": "short"}, timeout=30)

    assert result.returncode == 2
    assert "MODELPINS_WEBHOOK_SECRET=(value not shown) is not allowed: 16 to 1024 printable" in result.stderr
    assert "short" not in result.stderr


def test_lock_ttl_below_the_minimum_cannot_spin(mlflow_server):
    """A TTL of 0 made the renewal loop spin (renewals every ttl/3); the lock refuses it outright."""
    from modelpins.registry import MlflowRegistry

    with pytest.raises(ValueError, match="below the minimum of 30s"):
        ApplyLock(MlflowRegistry(mlflow_server.url), "me", ttl=0)
