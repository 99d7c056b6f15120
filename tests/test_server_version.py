"""The MLflow server's version is checked when plan and apply start: an older server than modelpins supports is
refused with the version found and the one needed (exit 1), before anything is planned or written.

No MLflow older than the lock's runs here: the recording proxy stands in for an older server by answering its
`/version` route (what MLflow servers answer there: the bare version text); every other request reaches the
real server. A server that does not answer /version (a gateway in front of MLflow) is not refused for it.
"""

from __future__ import annotations

import pytest

from modelpins.mlflow_http import MIN_SERVER
from tests.helpers import rest
from tests.helpers.cli import run
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
