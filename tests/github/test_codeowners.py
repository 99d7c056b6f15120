"""`modelpins codeowners`: the generated CODEOWNERS section, written and checked in a real git repository."""

from __future__ import annotations

from tests.helpers.cli import run

PINS = """version: 1
owners: ["@acme/ml-platform"]
models:
  risk:
    owners: ["@acme/risk-ml", "@alice"]
    aliases:
      champion: 1
  untended:
    aliases:
      champion: 1
environments:
  production:
    namespace: ml-prod
deployments:
  risk-api:
    environment: production
    serve: [risk@champion]
"""

HAND_WRITTEN = "# kept as written\n/.github/ @acme/ml-platform\n"


def test_write_keeps_hand_written_lines_and_check_passes(pr_repo):
    repo = pr_repo(PINS)
    owners = repo.root / ".github" / "CODEOWNERS"
    owners.parent.mkdir()
    owners.write_text(HAND_WRITTEN)

    wrote = run("codeowners", cwd=repo.root)
    assert wrote.returncode == 0, wrote.stderr
    text = owners.read_text()
    assert text.startswith(HAND_WRITTEN)
    assert "/model_pins.yaml @acme/ml-platform\n" in text
    assert "/manifests/*/risk-api/ @acme/risk-ml @alice\n" in text
    assert text.rstrip().endswith("# END modelpins")

    again = run("codeowners", "--check", cwd=repo.root)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert run("codeowners", cwd=repo.root).returncode == 0
    assert owners.read_text() == text  # rerunning changes nothing


def test_check_fails_when_owners_changed_and_writes_nothing(pr_repo):
    repo = pr_repo(PINS)
    assert run("codeowners", cwd=repo.root).returncode == 0
    owners = repo.root / ".github" / "CODEOWNERS"
    before = owners.read_text()
    (repo.root / "model_pins.yaml").write_text(PINS.replace('"@alice"', '"@bob"'))

    check = run("codeowners", "--check", cwd=repo.root)

    assert check.returncode == 1
    assert "-/manifests/*/risk-api/ @acme/risk-ml @alice" in check.stdout
    assert "+/manifests/*/risk-api/ @acme/risk-ml @bob" in check.stdout
    assert "run `modelpins codeowners` and commit" in check.stderr
    assert owners.read_text() == before


def test_broken_markers_are_reported_with_their_line(pr_repo):
    repo = pr_repo(PINS)
    owners = repo.root / ".github" / "CODEOWNERS"
    owners.parent.mkdir()
    owners.write_text("* @acme/all\n# BEGIN modelpins\n/x @y\n")
    result = run("codeowners", cwd=repo.root)
    assert result.returncode == 2
    assert ".github/CODEOWNERS:2:" in result.stderr and "fix:" in result.stderr
    assert owners.read_text() == "* @acme/all\n# BEGIN modelpins\n/x @y\n"
