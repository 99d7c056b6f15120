"""The MLflow server's version is checked when plan and apply start: an older server than modelpins supports is
refused with the version found and the one needed (exit 1), before anything is planned or written.

No MLflow older than the lock's runs here: the recording proxy stands in for an older server by answering its
`/version` route (what MLflow servers answer there: the bare version text); every other request reaches the
real server. A server that does not answer /version (a gateway in front of MLflow) is not refused for it.
Every environment's server is checked too, once per server, before anything is read from any of them.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from modelpins.mlflow_http import MIN_SERVER
from tests.helpers import envs, rest
from tests.helpers.cli import run
from tests.helpers.envs import register
from tests.helpers.proxy import Fault
from tests.helpers.seed import unique, write_pins


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]])
def test_an_older_server_is_refused_naming_both_versions(mlflow_server, proxy, tmp_path, command) -> None:
    name = unique("old")
    rest.seed(mlflow_server.url, [name], versions=2, aliases={"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 2}})
    proxy.faults.append(Fault(status=200, body=b"2.8.1", match="GET /version"))

    result = run("--pins", pins, "--tracking-uri", proxy.url, *command)

    assert result.returncode == 1, result.stdout + result.stderr
    need = ".".join(map(str, MIN_SERVER))
    assert f"runs MLflow 2.8.1; modelpins needs {need} or newer" in result.stderr
    assert "Upgrade the tracking server" in result.stderr
    assert proxy.log == [("GET", "/version")]  # nothing planned, nothing written
    assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 1}}


def test_the_real_server_passes_and_one_without_a_version_route_is_not_refused(mlflow_server, proxy, tmp_path):
    name = unique("new")
    rest.seed(mlflow_server.url, [name], versions=2, aliases={"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 2}})
    assert run("--pins", pins, "--tracking-uri", proxy.url, "plan").returncode == 0

    proxy.faults.append(Fault(status=404, match="GET /version"))
    applied = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert applied.returncode == 0, applied.stderr
    assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 2}}


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]])
def test_an_environments_older_server_is_refused_naming_the_environment(prod_server, proxy, tmp_path, command):
    """Staging is a real server; production's is the proxy standing in for an older MLflow (its /version only)."""
    name = unique("envold")
    staging = MlflowClient(prod_server.url)
    register(staging, name, [0.86, 0.9])
    path = envs.pins(tmp_path / "model_pins.yaml", name, prod_server.url, proxy.url, champion=2)
    proxy.faults.append(Fault(status=200, body=b"2.8.1", match="GET /version"))

    result = run("--pins", path, *command)

    assert result.returncode == 1, result.stdout + result.stderr
    need = ".".join(map(str, MIN_SERVER))
    assert (
        f"the MLflow server of environment 'production' at {proxy.url} runs MLflow 2.8.1; modelpins needs {need} or "
        "newer"
    ) in result.stderr
    assert f"point environments.production.registry.tracking_uri in {path} at one that is" in result.stderr
    assert proxy.log == [("GET", "/version")]  # production: nothing read, nothing copied
    assert staging.get_registered_model(name).aliases == {}  # staging: nothing moved


def test_each_server_is_checked_once_for_all_the_environments_on_it(mlflow_server, proxy, tmp_path):
    name = unique("envone")
    register(MlflowClient(mlflow_server.url), f"staging.{name}", [0.86, 0.9])
    path = envs.pins(
        tmp_path / "model_pins.yaml",
        name,
        proxy.url,
        proxy.url,
        champion=2,
        templates=("staging.{model}", "prod.{model}"),
    )

    applied = run("--pins", path, "apply", "--yes")

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert proxy.log.count(("GET", "/version")) == 1
    assert MlflowClient(mlflow_server.url).get_registered_model(f"prod.{name}").aliases == {"champion": "1"}
