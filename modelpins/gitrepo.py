"""Reading the pins file as it stands at a git ref (a PR's base, main, a past commit)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelpins.errors import InvalidInput, OperationFailed
from modelpins.yamlsrc import MAX_BYTES, too_large


def git(
    repo: Path, *args: str, check: bool = True, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        out = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=120, input=stdin, env=env
        )
    except FileNotFoundError:
        raise OperationFailed("git is not installed; install git to compare against a ref") from None
    if check and out.returncode != 0:
        raise OperationFailed(f"git {' '.join(args[:2])} failed: {out.stderr.strip()[:300]}")
    return out


def locate(path: Path) -> tuple[Path, str]:
    """(repository root, path of `path` inside it, with '/' separators)."""
    path = path.resolve()
    out = git(path.parent, "rev-parse", "--show-toplevel", check=False)
    if out.returncode != 0:
        raise InvalidInput(f"{path.parent} is not inside a git repository; --base needs one")
    root = Path(out.stdout.strip())
    return root, path.relative_to(root).as_posix()


def resolve(repo: Path, ref: str) -> str:
    """The commit `ref` names, or InvalidInput saying how to fetch it."""
    if not ref or ref.startswith("-"):
        raise InvalidInput(f"'{ref}' is not a git ref")
    out = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if out.returncode != 0:
        raise InvalidInput(f"git ref '{ref}' not found in {repo}; fetch it first (e.g. git fetch origin main)")
    return out.stdout.strip()


def show(repo: Path, commit: str, relpath: str, limit: int = MAX_BYTES) -> bytes | None:
    """The file's bytes at `commit`, or None when it did not exist there; InvalidPins past `limit` bytes."""
    with subprocess.Popen(
        ["git", "show", f"{commit}:{relpath}"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as proc:
        assert proc.stdout is not None
        data = proc.stdout.read(limit + 1)  # never more than the limit in memory
        if len(data) > limit:
            proc.kill()
            raise too_large(f"{relpath}@{commit[:12]}", limit)
        code = proc.wait(timeout=120)
    return data if code == 0 else None
