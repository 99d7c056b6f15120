"""import from the real MLflow server: paged reads counted at the proxy, round trip with plan, existing files kept."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.devserver import DevServer
from modelpins import pins
from modelpins.proposals import importer
from tests.helpers import rest
from tests.helpers.cli import run
from tests.helpers.proxy import Proxy
from tests.helpers.seed import unique

SEARCH = ("GET", "/api/2.0/mlflow/registered-models/search")


def registered_models(url: str) -> int:
    """How many registered models the server holds (what one full paged read must cover)."""
    count, token = 0, None
    while True:
        params = {"max_results": 1000, **({"page_token": token} if token else {})}
        page = rest.call(url, "GET", "registered-models/search", params=params)
        count += len(page.get("registered_models", []))
        token = page.get("next_page_token")
        if not token:
            return count


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A server of its own: 1,200 more models in the shared one would change the page counts other tests count."""
    server = DevServer(tmp_path_factory.mktemp("mlflow-big")).start()
    yield server
    server.stop()


@pytest.fixture
def big_proxy(big_server: DevServer) -> Iterator[Proxy]:
    p = Proxy(big_server.url).start()
    yield p
    p.stop()


def test_import_1200_models_then_plan_shows_no_changes(big_server, big_proxy, workdir):
    prefix = unique("bulk")
    names = [f"{prefix}-{i:04d}" for i in range(1200)]
    rest.bulk_seed(big_server.root / "mlflow.db", names[:1190], {"champion": 1})
    rest.bulk_seed(big_server.root / "mlflow.db", names[1190:], {"champion": 1, "challenger": 2})
    assert registered_models(big_server.url) == 1200

    result = run("--tracking-uri", big_proxy.url, "import", cwd=workdir)

    assert result.returncode == 0, result.stderr
    pages = math.ceil(1200 / 1000)
    assert big_proxy.log == [SEARCH] * pages
    text = (workdir / "model_pins.yaml").read_text()
    imported = pins.loads(text)
    assert list(imported.models) == names
    assert imported.alias_map()[names[-1]] == {"challenger": 2, "champion": 1}
    assert text == pins.dump(imported)  # the canonical layout
    assert f"wrote 1200 models ({pages} registry reads)" in result.stdout

    plan = run("--tracking-uri", big_server.url, "plan", cwd=workdir)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.strip() == "No changes: the registry matches the pins file."


EXISTING = """\
# Desired registry state; reviewed by the ML platform team.
version: 1

models:
  {first}:   # scored nightly
    description: "Scores loan applications."
    aliases:
        champion: 1     # promoted by PR #12
        challenger: 2
# end of models
"""


def test_import_into_a_commented_file_leaves_its_lines_alone(mlflow_server, workdir):
    prefix = unique("adopt")
    first, second, third = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    rest.seed(mlflow_server.url, [first], 3, {"champion": 3})  # differs from the file: the file wins
    rest.seed(mlflow_server.url, [second, third], 2, {"champion": 2, "shadow": 1})
    path = workdir / "model_pins.yaml"
    path.write_text(EXISTING.format(first=first))
    git(workdir, "init", "-q")
    git(workdir, "add", "model_pins.yaml")
    git(workdir, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "pins")

    result = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", cwd=workdir)

    assert result.returncode == 0, result.stderr
    diff = git(workdir, "diff", "--unified=0", "--", "model_pins.yaml").splitlines()
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        f"+  {second}:",
        "+    aliases:",
        "+      champion: 2",
        "+      shadow: 1",
        f"+  {third}:",
        "+    aliases:",
        "+      champion: 2",
        "+      shadow: 1",
    ]
    assert path.read_text().startswith(EXISTING.format(first=first).split("# end of models")[0])
    assert "added 2 models" in result.stdout and "kept 1 model already in the file" in result.stdout
    after = path.read_bytes()
    again = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "added 0 models" in again.stdout
    assert path.read_bytes() == after


def test_import_keeps_crlf_line_endings(mlflow_server, workdir):
    prefix = unique("crlf")
    rest.seed(mlflow_server.url, [f"{prefix}-a", f"{prefix}-b"], 1, {"champion": 1})
    path = workdir / "model_pins.yaml"
    original = f"version: 1\r\nmodels:\r\n  {prefix}-a:\r\n    aliases:\r\n      champion: 1\r\n".encode()
    path.write_bytes(original)

    result = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", cwd=workdir)

    assert result.returncode == 0, result.stderr
    data = path.read_bytes()
    assert data.startswith(original)
    assert data[len(original) :] == f"  {prefix}-b:\r\n    aliases:\r\n      champion: 1\r\n".encode()


def test_aliases_the_schema_rejects_are_reported_not_written(mlflow_server, workdir):
    prefix = unique("reject")
    good, clash = f"{prefix}-good", f"{prefix}-clash"
    rest.seed(mlflow_server.url, [good], 1, {"champion": 1})
    rest.seed(mlflow_server.url, [clash], 2, {"champion": 1})
    body = {"name": clash, "alias": "Champion", "version": "2"}
    resp = requests.post(mlflow_server.url + rest.API + "registered-models/alias", json=body, timeout=30)
    assert resp.status_code == 200, resp.text  # the sqlite store keeps aliases case-sensitively

    result = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", cwd=workdir)

    assert result.returncode == 0, result.stderr
    assert f"left out {clash}@champion: differs from 'Champion' only in case" in result.stderr
    assert "fix: rename it in MLflow" in result.stderr
    written = pins.load(workdir / "model_pins.yaml")
    assert list(written.models) == [good]  # never half a model: apply would delete the alias left out
    plan = run("--tracking-uri", mlflow_server.url, "plan", "--json", cwd=workdir)
    assert json.loads(plan.stdout) == {"changes": []}


def test_reserved_and_malformed_names_are_left_out_with_the_reason():
    # MLflow refuses these names today; a registry migrated from elsewhere may still hold them
    state = {"ok": {"champion": 1}, "old": {"latest": 2, "prod": 1}, "bad name": {"champion": 1}, "empty": {}}

    models, skipped, bare = importer.importable(state)

    assert list(models) == ["ok"]
    assert [(s.model, s.alias) for s in skipped] == [("bad name", None), ("old", "latest")]
    assert "reserved by MLflow" in str(skipped[1])
    assert bare == ["empty"]


def test_import_bad_input_exits_2_and_writes_nothing(mlflow_server, workdir):
    none = run("--tracking-uri", mlflow_server.url, "import", "--model", "no-such-model-*", cwd=workdir)
    assert none.returncode == 2
    assert "no registered model matches --model 'no-such-model-*'" in none.stderr
    assert not (workdir / "model_pins.yaml").exists()

    broken = workdir / "model_pins.yaml"
    broken.write_text("version: 1\nmodels:\n  a:\n    aliases:\n      latest: 1\n")
    invalid = run("--tracking-uri", mlflow_server.url, "import", cwd=workdir)
    assert invalid.returncode == 2
    assert "model_pins.yaml:5: alias 'latest' is reserved" in invalid.stderr
    assert broken.read_text() == "version: 1\nmodels:\n  a:\n    aliases:\n      latest: 1\n"

    nodir = run("--tracking-uri", mlflow_server.url, "import", "--out", "missing/pins.yaml", cwd=workdir)
    assert nodir.returncode == 2 and "no such directory" in nodir.stderr


def test_added_models_follow_the_file_indentation_and_an_empty_models_mapping() -> None:
    state = {"b": {"champion": 1}, "a": {"x": 2}}
    wide = "version: 1\r\nmodels:\r\n    z:\r\n        aliases:\r\n            c: 1\r\n"
    assert importer.merge(state, wide, "p.yaml").text == wide + (
        "    a:\r\n        aliases:\r\n            x: 2\r\n    b:\r\n        aliases:\r\n            champion: 1\r\n"
    )
    empty = "# top\nversion: 1\nmodels: {}\n# tail\n"
    assert importer.merge(state, empty, "p.yaml").text == (
        "# top\nversion: 1\nmodels:\n  a:\n    aliases:\n      x: 2\n  b:\n    aliases:\n      champion: 1\n# tail\n"
    )


def test_import_out_a_link_is_refused_and_the_link_and_its_target_kept(mlflow_server, workdir):
    # issue 29, item 6: a link is neither replaced by a regular file nor written through; pass its target
    prefix = unique("linked")
    rest.seed(mlflow_server.url, [f"{prefix}-a"], 1, {"champion": 1})
    target = workdir / "real.yaml"
    target.write_bytes(b"version: 1\nmodels: {}\n")
    (workdir / "link.yaml").symlink_to("real.yaml")

    result = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", "--out", "link.yaml",
                 cwd=workdir)  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert "link.yaml is a symbolic link (to real.yaml)" in result.stderr and "real.yaml" in result.stderr
    assert (workdir / "link.yaml").is_symlink() and target.read_bytes() == b"version: 1\nmodels: {}\n"
    direct = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", "--out", "real.yaml",
                 cwd=workdir)  # fmt: skip
    assert direct.returncode == 0, direct.stderr
    assert f"{prefix}-a" in target.read_text()


def test_import_owner_sets_the_file_owners_and_the_next_step_says_owners_are_required(mlflow_server, workdir):
    """An imported file had no owners, so every change to it passed `approvals` with no review."""
    prefix = unique("owned")
    rest.seed(mlflow_server.url, [f"{prefix}-a"], 1, {"champion": 1})
    path = workdir / "model_pins.yaml"

    bare = run("--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*", cwd=workdir)
    assert bare.returncode == 0, bare.stderr
    assert "next: owners are required" in bare.stdout and "--owner @org/team" in bare.stdout
    assert pins.load(path).owners == ()

    path.unlink()
    owned = run(
        "--tracking-uri", mlflow_server.url, "import", "--model", f"{prefix}-*",
        "--owner", "@acme/ml-platform", "--owner", "@alice", cwd=workdir,
    )  # fmt: skip
    assert owned.returncode == 0, owned.stderr
    assert pins.load(path).owners == ("@acme/ml-platform", "@alice")
    assert "owners are required: review the file-level `owners:`" in owned.stdout


def test_import_owner_adds_owners_to_an_existing_file_without_them() -> None:
    text = "# top\nversion: 1\nmodels:\n  z:\n    aliases:\n      c: 1\n"
    merged = importer.merge({"z": {"c": 1}}, text, "p.yaml", owners=("@acme/ml",)).text
    assert merged == '# top\nversion: 1\nowners: ["@acme/ml"]\nmodels:\n  z:\n    aliases:\n      c: 1\n'
    owned = 'owners: ["@x"]\nversion: 1\nmodels:\n  z:\n    aliases:\n      c: 1\n'
    assert importer.merge({"z": {"c": 1}}, owned, "p.yaml", owners=("@acme/ml",)).text == owned  # its owners stay
