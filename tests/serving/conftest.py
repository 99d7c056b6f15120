"""Session fixtures for serving: a real dockerd (vfs storage, no networking) and a real registry, on loopback.

No image is pulled from outside. `base_image` is made here, from a rootfs holding a
shell and a `python3` stand-in that records how it was called (in place of vLLM's
multi-gigabyte image), and pushed to the local registry so it can be pinned by digest.
`python_base` (for MLflow's model server image) is a real Python: this machine's own.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.devserver import free_port

REPO = Path(__file__).resolve().parents[2]

PYTHON3_STAND_IN = (
    b'#!/bin/sh\n# stands in for the base image\'s python3: records each call\necho "$@" >> /opt/python3-calls\n'
)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Engine:
    host: str  # DOCKER_HOST

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host)


def missing(what: str) -> None:
    """Skip on a machine without the engine; fail where it must be there (CI sets MODELPINS_REQUIRE_DOCKER=1)."""
    if os.environ.get("MODELPINS_REQUIRE_DOCKER") == "1":
        pytest.fail(what)
    pytest.skip(what)


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if not shutil.which("dockerd"):
        missing("dockerd is not installed (apt-get install docker.io)")
    root = tmp_path_factory.mktemp("dockerd")
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [
            "dockerd",
            "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "dockerd.pid"),
            "--host", f"unix://{sock}",
            "--storage-driver", "vfs",
            "--iptables=false", "--ip6tables=false", "--bridge=none",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    engine = Engine(f"unix://{sock}")
    deadline = time.monotonic() + 30
    while True:
        try:
            engine.client().ping()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                pytest.fail(f"dockerd did not start; see {root / 'dockerd.log'}")
            time.sleep(0.2)
    yield engine
    _stop(proc)


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        """What the registry itself answers for repository:tag (Docker-Content-Digest), None if absent."""
        req = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def tags(self, repository: str) -> list[str]:
        import json

        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/{repository}/tags/list", timeout=10) as resp:
                return sorted(json.load(resp).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not shutil.which("docker-registry"):
        missing("docker-registry is not installed (apt-get install docker-registry)")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "registry.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(root / "registry.log", "wb")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            break
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                pytest.fail(f"docker-registry did not start; see {root / 'registry.log'}")
            time.sleep(0.2)
    yield Registry(f"127.0.0.1:{port}")
    _stop(proc)


def _rootfs() -> bytes:
    """A shell with its C library, /opt, and the python3 stand-in."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tar:
        sh = Path(shutil.which("sh") or "/bin/sh").resolve()
        tar.add(sh, "bin/sh")
        libs = subprocess.run(["ldd", str(sh)], capture_output=True, text=True, check=True).stdout
        for line in libs.splitlines():
            path = next((p for p in line.split() if p.startswith("/")), None)
            if path:
                tar.add(path, path.lstrip("/"))
        info = tarfile.TarInfo("usr/bin/python3")
        info.size, info.mode = len(PYTHON3_STAND_IN), 0o755
        tar.addfile(info, io.BytesIO(PYTHON3_STAND_IN))
        opt = tarfile.TarInfo("opt")
        opt.type, opt.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(opt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def base_image(docker_engine: Engine, registry: Registry) -> str:
    """The test base image, pushed to the local registry: '127.0.0.1:PORT/vllm-base@sha256:...'."""
    context = _context(
        {"Dockerfile": b"FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/bin:/bin\n", "rootfs.tar": _rootfs()}
    )
    return _push(docker_engine, registry, "vllm-base", context)


def _context(files: dict[str, bytes]) -> io.BytesIO:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    return context


def _push(engine: Engine, registry: Registry, repository: str, context: io.BytesIO) -> str:
    """Build the context, push it as REPOSITORY:test, return 'HOST/REPOSITORY@sha256:...' as the registry has it."""
    ref = f"{registry.host}/{repository}"
    engine.client().images.build(fileobj=context, custom_context=True, tag=f"{ref}:test", rm=True)
    engine.client().images.push(ref, tag="test")
    digest = registry.manifest_digest(repository, "test")
    assert digest, f"the image {repository} did not reach the registry"
    return f"{ref}@{digest}"


# The system libraries a manylinux wheel may expect from its host (PEP 600 / auditwheel's policy),
# as a Python base image ships them.
MANYLINUX_LIBS = ("libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0",
                  "libutil.so.1", "libresolv.so.2", "libz.so.1")  # fmt: skip


def _manylinux_libs() -> set[str]:
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines()
    found = {line.split()[0]: line.rpartition("=> ")[2] for line in cache if "x86-64" in line and "=> " in line}
    return {found[name] for name in MANYLINUX_LIBS if name in found}


def _python_rootfs(python: Path, stdlib: Path) -> bytes:
    """This machine's Python (binary, standard library, shared libraries), pip, sh and bash, and the CA bundle."""
    import pip

    libs: set[str] = set()

    def needs(binary: Path) -> None:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        libs.update(p for line in out.splitlines() for p in line.split() if p.startswith("/"))

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        skipped = ("/test/", "/__pycache__/", "/site-packages/", "/dist-packages/")
        # EXTERNALLY-MANAGED: a distribution's marker that refuses pip; a Python base image has none
        return None if any(s in info.name + "/" for s in skipped) or info.name.endswith("EXTERNALLY-MANAGED") else info

    def compiled(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "/__pycache__" in info.name else info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tar:
        sh = Path(shutil.which("sh") or "/bin/sh").resolve()
        tar.add(sh, "bin/sh")
        bash = Path(shutil.which("bash") or "/bin/bash").resolve()  # mlflow models serve starts uvicorn with bash
        tar.add(bash, "bin/bash")
        tar.add(python, "usr/bin/python3")
        tar.add(stdlib, f"usr/lib/{stdlib.name}", filter=keep)
        tar.add(Path(pip.__file__).parent, f"usr/local/lib/{stdlib.name}/dist-packages/pip", filter=compiled)
        for binary in (sh, bash, python, *(stdlib / "lib-dynload").glob("*.so")):
            needs(binary)
        libs.update(_manylinux_libs())  # what PyPI's binary wheels may link against (pydantic-core needs libgcc_s)
        for lib in sorted(libs):
            tar.add(lib, lib.lstrip("/"))
        tar.add("/etc/ssl/certs/ca-certificates.crt", "etc/ssl/certs/ca-certificates.crt")
        for name, mode in (("tmp", 0o1777), ("home", 0o755)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture(scope="session")
def python_base(docker_engine: Engine, registry: Registry) -> str:
    """A Python base image for deploy/Dockerfile.mlflow in the local registry: '127.0.0.1:PORT/python@sha256:...'.

    Made from this machine's /usr/bin/python3 (no image can be pulled here). It carries the machine's CA
    bundle as PIP_CERT, as a site's own base image would, so the build's pip reaches PyPI through the
    site's TLS proxy.
    """
    python = Path("/usr/bin/python3")
    if not python.exists():
        missing("no /usr/bin/python3 to make a Python base image from")
    where = "import sysconfig; print(sysconfig.get_paths()['stdlib'])"
    stdlib = Path(subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True).stdout.strip())
    dockerfile = (
        b"FROM scratch\nADD rootfs.tar /\n"
        b"ENV PATH=/usr/local/bin:/usr/bin:/bin PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
    )
    context = _context({"Dockerfile": dockerfile, "rootfs.tar": _python_rootfs(python.resolve(), stdlib)})
    return _push(docker_engine, registry, "python", context)


def _dockerfile_requirements(dockerfile: Path) -> list[str]:
    """What deploy/Dockerfile.mlflow's pip install asks for by default: MLFLOW_REQUIREMENT, STORE_CLIENT and
    REQUIREMENTS."""
    names = "MLFLOW_REQUIREMENT|STORE_CLIENT|REQUIREMENTS"
    args = dict(re.findall(rf'^ARG ({names})="?([^"\n]*)"?$', dockerfile.read_text(), re.M))
    return [args["MLFLOW_REQUIREMENT"], *args["STORE_CLIENT"].split(), *args["REQUIREMENTS"].split()]


def _lock_constraints() -> str:
    """The lock's pins (requirements/dev.txt, with their markers) as a pip constraints file."""
    lines = (REPO / "requirements" / "dev.txt").read_text().splitlines()
    return "".join(line.removesuffix("\\").strip() + "\n" for line in lines if re.match(r"^[A-Za-z0-9_.-]+==", line))


@pytest.fixture(scope="session")
def wheelhouse(request: pytest.FixtureRequest) -> Path:
    """Wheels for deploy/Dockerfile.mlflow's `pip install` on the Python base image, at the lock's versions.

    pip downloads them from PyPI once (binary wheels for the base image's Python) into pytest's cache;
    a run with the same Dockerfile requirements and lock reuses them.
    """
    requirements = _dockerfile_requirements(REPO / "deploy" / "Dockerfile.mlflow")
    constraints = _lock_constraints()
    version = subprocess.run(["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    key = hashlib.sha256("\n".join([version, *requirements, constraints]).encode()).hexdigest()[:16]
    wheels = Path(request.config.cache.mkdir(f"classic-wheelhouse-{key}"))
    if not (wheels / ".complete").exists():
        (wheels / "constraints.txt").write_text(constraints)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", version,
             "--dest", str(wheels), "-c", str(wheels / "constraints.txt"), *requirements],
            check=True, timeout=1800,
        )  # fmt: skip
        (wheels / ".complete").touch()
    return wheels


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def python_mirror_base(docker_engine: Engine, registry: Registry, python_base: str, wheelhouse: Path) -> Iterator[str]:
    """`python_base` whose pip installs from a package mirror on loopback (the wheelhouse served over HTTP, no
    index), as a site's own base image points pip at the site's mirror. Builds on it need `--network host`."""
    handler = functools.partial(_QuietHandler, directory=str(wheelhouse))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mirror = f"http://127.0.0.1:{server.server_address[1]}/"
    dockerfile = f"FROM {python_base}\nENV PIP_NO_INDEX=1 PIP_FIND_LINKS={mirror}\n".encode()
    yield _push(docker_engine, registry, "python-mirrored", _context({"Dockerfile": dockerfile}))
    server.shutdown()
    thread.join()


PEFT = "peft==0.21.2"
TORCH = "torch==2.13.0"  # a CPU build this machine keeps for pip's find-links; PyPI's would be a multi-GB CUDA one


@pytest.fixture(scope="session")
def peft_python(request: pytest.FixtureRequest) -> Path:
    """A Python with peft (and so torch), apart from the hashed lock: the lock stays free of torch.

    Built once into pytest's cache by plain pip: torch from this machine's local CPU wheel only (`--no-index
    --no-deps`, so nothing CUDA-sized is ever downloaded), then torch's other requirements and peft from PyPI,
    at the lock's versions of what they share with it.
    Skipped where no such wheel is on disk for this Python (in a directory of pip's find-links).
    """
    key = hashlib.sha256(f"{sys.version}\n{PEFT}\n{TORCH}\n{_lock_constraints()}".encode()).hexdigest()[:16]
    venv = Path(request.config.cache.mkdir(f"peft-venv-{key}"))
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    local = subprocess.run([*pip, "--no-index", "--no-deps", TORCH], capture_output=True, text=True, timeout=900)
    if local.returncode != 0:
        pytest.skip(f"no local CPU wheel of {TORCH} for this Python in pip's find-links: {local.stderr[-300:]}")
    # torch is installed now, so pip keeps it: only torch's and peft's other requirements come from PyPI
    (venv / "constraints.txt").write_text(_lock_constraints())
    subprocess.run([*pip, "-c", str(venv / "constraints.txt"), TORCH, PEFT], check=True, timeout=1800)
    (venv / ".complete").touch()
    return python
