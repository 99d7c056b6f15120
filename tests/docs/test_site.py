"""The documentation site: `mkdocs build --strict` passes, and its generated reference names every command,
option, schema field, tag, environment variable and exit code; the README's links resolve."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from devkit import reference
from modelpins import tags
from modelpins.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make docs` builds it (strict: any warning fails), in a temporary directory."""
    if not MKDOCS.exists() and not shutil.which("mkdocs"):
        pytest.skip("mkdocs is not installed (it is in the lock's docs extra: make venv)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    argv = [str(MKDOCS if MKDOCS.exists() else shutil.which("mkdocs")), "build", "--strict", "--site-dir", str(out)]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def page_text(site: Path, page: str) -> str:
    return html.unescape((site / page / "index.html").read_text(encoding="utf-8"))


def section(text: str, anchor: str) -> str:
    """The HTML from the heading with id `anchor` up to the next h2 or h3 heading."""
    start = text.index(f'id="{anchor}"')
    end = re.compile(r"<h[23][^>]* id=").search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def commands(group: click.Group = cli, path: str = "modelpins") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group, info_name=path)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


def anchor(command_path: str) -> str:
    return "-".join(command_path.split())


def test_the_site_builds_with_no_warning(site: Path) -> None:
    assert (site / "index.html").exists()
    for page in (
        "reference/cli",
        "reference/schema",
        "reference/tags",
        "reference/environment",
        "reference/exit-codes",
    ):
        assert (site / page / "index.html").exists(), page
        assert "<!-- reference:" not in (site / page / "index.html").read_text()  # every marker was expanded


def test_every_command_and_option_is_in_the_cli_reference(site: Path) -> None:
    text = page_text(site, "reference/cli")
    found = list(commands())
    assert len(found) >= 26
    for path, command in found:
        assert f'id="{anchor(path)}"' in text, f"{path} has no section in the CLI reference"
        body = section(text, anchor(path))
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if isinstance(param, click.Option):
                    assert opt in body, f"{path}: option {opt} missing from its reference section"


def test_every_schema_field_is_in_the_schema_reference(site: Path) -> None:
    text = page_text(site, "reference/schema")
    schema = json.loads((ROOT / "schema" / "model_pins.schema.json").read_text(encoding="utf-8"))
    types = {"the-document": schema, **{name.lower(): spec for name, spec in schema["$defs"].items()}}
    fields = 0
    for slug, spec in types.items():
        body = section(text, slug)
        for field in spec.get("properties", {}):
            assert f"<code>{field}</code>" in body, f"{slug}.{field} missing from the schema reference"
            fields += 1
    assert fields > 50


def test_tags_environment_variables_and_exit_codes_are_in_the_reference(site: Path) -> None:
    tags_page = page_text(site, "reference/tags")
    for name, value in vars(tags).items():
        if name.isupper() and isinstance(value, str):
            assert f"<code>tags.{name}</code>" in tags_page and f"<code>{value}</code>" in tags_page, name
    env_page = page_text(site, "reference/environment")
    for name in (
        "MODELPINS_HTTP_RETRIES",
        "MODELPINS_LOCK_VERIFY",
        "MLFLOW_TRACKING_TOKEN",
        *reference.read_variables(),
    ):
        assert f"<code>{name}</code>" in env_page, name
    codes = page_text(site, "reference/exit-codes")
    for code, error in (("1", "GateFailed"), ("2", "InvalidInput"), ("2", "InvalidPins"), ("3", "ModelPinsError")):
        assert re.search(rf"<code>{code}</code></td>\s*<td><code>{error}</code>", codes), (code, error)


def test_each_help_ends_with_its_reference_path(site: Path) -> None:
    cli_page = page_text(site, "reference/cli")
    runner_paths: list[tuple[str, list[str]]] = [("modelpins", [])]
    runner_paths += [(path, path.split()[1:]) for path, _ in commands()]
    for path, args in runner_paths:
        out = subprocess.run(
            [sys.executable, "-m", "modelpins", *args, "--help"], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        last = out.stdout.rstrip().splitlines()[-1].strip()
        assert last == f"Reference: docs/reference/cli/#{anchor(path)}", f"{path} --help ends with {last!r}"
        assert f'id="{anchor(path)}"' in cli_page  # the path names a section that exists


def test_the_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) >= 20 and any(link.endswith(".png") for link in local)
    for link in local:
        target = link.split("#", 1)[0]
        assert target and (ROOT / target).exists(), f"README.md links to {link}, which does not exist"


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 160
    assert "make test" in readme and "make demo" in readme  # CI and newcomers run these
