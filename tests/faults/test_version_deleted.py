"""A pinned version deleted after the plan was shown: apply fails cleanly and no alias dangles."""

from __future__ import annotations

from tests.helpers import rest
from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault
from tests.helpers.seed import unique, write_pins


def test_version_deleted_between_plan_and_apply_is_invalid_input(mlflow_server, proxy, tmp_path):
    name = unique("deleted")
    rest.seed(mlflow_server.url, [name], versions=3, aliases={"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 3}})
    plan = run("--pins", pins, "--tracking-uri", proxy.url, "plan")
    assert plan.returncode == 0 and "move" in plan.stdout

    rest.delete_version(mlflow_server.url, name, 3)
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")

    assert result.returncode == 2
    assert f"{pins}:5: version 3 of '{name}' does not exist in MLflow" in result.stderr
    assert "fix: pin an existing version (newest: 1, 2)" in result.stderr
    assert proxy.writes() == []
    assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 1}}


def test_version_deleted_while_apply_runs_stops_cleanly_and_fixed_file_converges(mlflow_server, proxy, tmp_path):
    first, second = unique("deleted-a"), unique("deleted-b")
    rest.seed(mlflow_server.url, [first, second], versions=3, aliases={"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {first: {"champion": 2}, second: {"champion": 3}})
    # hold the first write (the audit tag of `first`) long enough to delete second's version 3 meanwhile
    proxy.faults.append(Fault(status=0, count=1, delay=1.0, match="POST /api/2.0/mlflow/model-versions/set-tag"))

    # one change at a time: with changes in flight, second's writes could finish before the deletion
    proc = start("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "1")
    wait_for(lambda: any(p.endswith("/model-versions/set-tag") for _, p in proxy.log), what="the first write")
    rest.delete_version(mlflow_server.url, second, 3)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 1, err
    assert "applied 1 of 2 changes, then stopped" in err
    assert f"failed   {second}@champion" in err
    assert f"name={second}, version=3" in err  # MLflow's own words name the model and version
    state = rest.state(mlflow_server.url, [first, second])
    assert state == {first: {"champion": 2}, second: {"champion": 1}}
    for model, aliases in state.items():
        for version in aliases.values():
            assert rest.version_exists(mlflow_server.url, model, version)
    assert rest.lock_holder(mlflow_server.url) is None

    write_pins(pins, {first: {"champion": 2}, second: {"champion": 2}})
    again = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert again.returncode == 0, again.stderr
    assert rest.state(mlflow_server.url, [first, second]) == {first: {"champion": 2}, second: {"champion": 2}}
