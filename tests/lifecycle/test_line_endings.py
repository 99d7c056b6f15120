"""File edits (rollback, drift --fix file) keep CRLF line endings and never overwrite an edit made meanwhile."""

from __future__ import annotations

from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault
from tests.helpers.seed import seed_model, unique
from tests.lifecycle.conftest import pins_text


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def numstat(repo) -> list[str]:
    """[insertions, deletions, path] of the working copy's change: CRLF rewritten whole would count every line."""
    return repo.git("diff", "--numstat", "--", "model_pins.yaml").split()


def test_rollback_keeps_crlf_and_changes_one_line(repo) -> None:
    repo.commit(crlf(pins_text("scorer", 1)), "Pin")
    repo.merge_pr(3, "promote", crlf(pins_text("scorer", 2)), "Promote to 2")

    result = run("rollback", "scorer@champion", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    data = repo.pins.read_bytes()
    assert data == crlf(pins_text("scorer", 1)).encode()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert numstat(repo) == ["1", "1", "model_pins.yaml"]


def test_drift_fix_file_keeps_crlf(repo, client, mlflow_server) -> None:
    model = unique("crlf")
    seed_model(client, model, 3, {"champion": 2, "challenger": 3})
    repo.commit(crlf(pins_text(model, 2)), "Pin")
    client.set_registered_model_alias(model, "champion", "1")

    result = run("--tracking-uri", mlflow_server.url, "drift", "--fix", "file", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    assert repo.pins.read_bytes() == crlf(pins_text(model, 1)).encode()
    assert numstat(repo) == ["1", "1", "model_pins.yaml"]


def test_an_edit_made_while_rollback_waits_on_the_registry_is_kept(repo, client, proxy) -> None:
    model = unique("concurrent")
    seed_model(client, model, 3)
    repo.commit(pins_text(model, 1), "Pin")
    repo.merge_pr(4, "promote", pins_text(model, 2), "Promote to 2")
    proxy.faults.append(Fault(status=0, delay=3.0, match="GET /api/2.0/mlflow/model-versions/get", count=1))

    proc = start("--pins", repo.pins, "--tracking-uri", proxy.url, "rollback", f"{model}@champion")
    wait_for(lambda: any(p.endswith("/model-versions/get") for _, p in proxy.log), what="rollback reading MLflow")
    edited = repo.pins.read_text() + "# a teammate's edit, saved meanwhile\n"
    repo.pins.write_text(edited)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 1, out + err
    assert "changed while modelpins was working on it" in err and "nothing was written" in err
    assert repo.pins.read_text() == edited
