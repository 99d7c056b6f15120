"""Credentials are never printed or written: every command that reaches the server, with a password in the
tracking URI and with a bearer token, through a loopback proxy that demands them in front of the real server.

Everything a user or a log could see is searched: stdout, stderr, GitHub annotations, the job summary and
step outputs, every file the commands write (PR comment, plan and gate reports, drift report, model card,
lock), the card artefact logged to the run, and every tag the commands left on the versions.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelpins.redact import INVISIBLE, public_url, redact
from tests.helpers.cli import run
from tests.helpers.proxy import Proxy
from tests.helpers.seed import seed_model, unique

PASSWORD = "pa55-Hunter2-secret"
TOKEN = "tok-8f3a91c2d7e64b0f"
USER = "modeluser"
ZWSP = "\u200b"


def leaked(text: str) -> list[str]:
    """Which credentials `text` shows, also when zero-width characters were put between their letters."""
    plain = text.translate({ord(c): None for c in INVISIBLE})
    return [s for s in (PASSWORD, TOKEN, f"{USER}:") if s in plain]


def pins_text(model: str, champion: int) -> str:
    return f"""version: 1
models:
  {model}:
    description: Scores loan applications.
    aliases:
      champion: {champion}
      challenger: 3
    gates:
      champion:
        - kind: command
          name: env-printer
          run: [python, gates/print_env.py]
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["password", "token"])
def secured(request: pytest.FixtureRequest, mlflow_server) -> Iterator[tuple[str, dict[str, str]]]:
    """(mode, env): the tracking URI and credential variables a user of a secured server sets."""
    proxy = Proxy(mlflow_server.url)
    if request.param == "password":
        proxy.authorization = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        proxy.start()
        env = {"MLFLOW_TRACKING_URI": proxy.url.replace("http://", f"http://{USER}:{PASSWORD}@")}
    else:
        proxy.authorization = f"Bearer {TOKEN}"
        proxy.start()
        env = {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_TOKEN": TOKEN}
    yield request.param, env
    proxy.stop()


def test_no_command_shows_a_credential(secured, client, tmp_path: Path) -> None:
    mode, auth = secured
    model = unique("secret")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    root = tmp_path / "repo"
    (root / "gates").mkdir(parents=True)
    (root / "gates" / "print_env.py").write_text(
        "import os, sys\n"
        "print('uri', os.environ.get('MLFLOW_TRACKING_URI'), 'token', os.environ.get('MLFLOW_TRACKING_TOKEN'),"
        " file=sys.stderr)\n"
        "sys.exit(1)\n"
    )
    pins = root / "model_pins.yaml"
    pins.write_text(pins_text(model, 1))
    git(root, "init", "-q", "-b", "main")
    who = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    git(root, "add", "-A")
    git(root, *who, "commit", "-qm", "pins")
    git(root, "switch", "-q", "-c", "promote")  # the pull request's branch, checked out clean
    pins.write_text(pins_text(model, 2))
    git(root, *who, "commit", "-qam", "Promote v2 (#7)")
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    env = {**auth, **actions, "MODELPINS_HTTP_RETRIES": "0", "MODELPINS_ACTOR": "ci"}
    dead = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"
    wrong = auth["MLFLOW_TRACKING_URI"].replace(PASSWORD, PASSWORD + "x")
    target = f"{model}@champion"
    commands = [
        ["validate"],
        ["plan", "--json"],
        ["plan", "--base", "main", "--markdown", "plan.md", "--summary"],
        ["gate", "--report", "gates.md"],
        ["gate", "--base", "main", "--json", "--no-record"],
        ["apply", "--yes", "--skip-gates"],
        ["history"],
        ["history", target, "--json"],
        ["lineage"],
        ["lineage", target, "--json"],
        ["lock"],
        ["card", target, "--json"],
        ["card", f"{model}@challenger"],
        ["report", "--base", "main", "--gates", "gates.md", "--gates-outcome", "failure", "--out", "comment.md"],
        ["drift", "--json", "--markdown", "drift.md"],
    ]
    results = [run(*c, cwd=root, env=env) for c in commands]
    assert [r.returncode for r in results[:4]] == [0, 0, 0, 1], [r.stderr for r in results[:4]]
    assert all(r.returncode == 0 for r in results[5:]), [(c, r.stderr) for c, r in zip(commands, results, strict=True)]
    client.set_registered_model_alias(model, "challenger", "2")  # drift, then --fix apply
    results.append(run("drift", "--fix", "apply", "--yes", cwd=root, env=env))
    assert results[-1].returncode == 0, results[-1].stderr
    refused = {"MLFLOW_TRACKING_TOKEN": "wrong-" + TOKEN} if mode == "token" else {}
    for name, uri, extra in (("dead", dead, {}), ("refused", wrong, refused)):  # unreachable; credentials refused
        bad = {**env, **extra, "MLFLOW_TRACKING_URI": uri}
        failing = [run(*c, cwd=root, env=bad) for c in commands if c[0] != "report"]
        failing.append(run("rollback", target, "--to", "2", cwd=root, env=bad))
        failing.append(run("report", "--base", "main", "--out", f"{name}.md", cwd=root, env=bad))
        failing.append(run("--tracking-uri", uri, "plan", cwd=root, env={**actions}))
        assert all(r.returncode in (1, 2) for r in failing[:-2]), [(r.args, r.stderr) for r in failing]
        results += failing
    results.append(run("rollback", target, "--to", "1", cwd=root, env=env))
    assert results[-1].returncode == 0, results[-1].stderr
    shown = {f"{' '.join(r.args[3:])} ({stream})": text for r in results for stream, text in
             (("stdout", r.stdout), ("stderr", r.stderr))}  # fmt: skip
    files = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*") if p.is_file()
             and ".git" not in p.parts}  # fmt: skip
    from mlflow.artifacts import download_artifacts

    versions = {v.version: v for v in client.search_model_versions(f"name = '{model}'")}
    card_uri = versions["2"].tags["modelpins.card"]
    card = Path(download_artifacts(artifact_uri=card_uri, tracking_uri=client.tracking_uri, dst_path=str(tmp_path)))
    tags = {f"v{n} {k}": value for n, v in versions.items() for k, value in v.tags.items()}

    found = {where: leaked(text) for where, text in {**shown, **files, **tags}.items() if leaked(text)}
    assert found == {}, f"credentials shown ({mode}): {found}"
    assert "::error" in "".join(r.stdout for r in results), "annotations were printed and searched"
    assert summary.read_text() and output.read_text() and card.read_text()
    assert f"{model}/versions/2" in (root / "comment.md").read_text(), "the comment links the card"
    assert public_url(auth["MLFLOW_TRACKING_URI"]) + f"/#/models/{model}/versions/2" in card.read_text()
    assert "registry not read: MLflow server at http://127.0.0.1:" in (root / "dead.md").read_text()
    assert "registry not read: MLflow refused" in (root / "refused.md").read_text()


@pytest.mark.parametrize(
    "text",
    [
        f"http://{USER}:{PASSWORD}@host:5000/api",
        f"http://{USER}:{PASSWORD}@{ZWSP}host:5000/api",
        f"see https://{USER}@{ZWSP}{PASSWORD[:3]}{ZWSP}{PASSWORD[3:]}",
        json.dumps({"uri": f"https://{USER}:{PASSWORD}@h", "token": TOKEN}),
    ],
)
def test_redact_removes_user_info_and_known_values(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://{USER}:{PASSWORD}@host:5000")

    assert leaked(redact(text)) == []
    assert "host" in redact(text) or "***" in redact(text)


def test_public_url_drops_user_info_only() -> None:
    assert (
        public_url(f"https://{USER}:{PASSWORD}@mlflow.example.com:8443/x?y=1")
        == "https://mlflow.example.com:8443/x?y=1"
    )
    assert public_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


SECRET_HOST = "mlflow-7f3a.internal.acme.example"


def test_a_secret_tracking_uri_is_shown_by_its_label_in_every_comment_and_summary(tmp_path: Path) -> None:
    """The workflows hold MLFLOW_TRACKING_URI as a secret; a PR comment goes through the API, where Actions'
    masking does not apply. With the registry down (a same-repository PR), and for a fork (no URI at all),
    no comment or summary shows the URI, its host or its port, and neither blames fork-like access."""
    port = free_port()  # nothing listens: the registry is down
    # The host resolves to the loopback through the URI's own authority: a name nothing else prints.
    uri = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/{SECRET_HOST}"
    model = unique("hidden")
    root = tmp_path / "repo"
    root.mkdir()
    pins = root / "model_pins.yaml"
    pins.write_text('owners: ["@alice"]\n' + pins_text(model, 1))
    git(root, "init", "-q", "-b", "main")
    who = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    git(root, "add", "-A")
    git(root, *who, "commit", "-qm", "pins")
    git(root, "switch", "-q", "-c", "promote")
    pins.write_text('owners: ["@alice"]\n' + pins_text(model, 2))
    git(root, *who, "commit", "-qam", "promote")
    label = "the registry-read registry"
    outputs: dict[str, str] = {}
    for case, extra in (("down", {"MLFLOW_TRACKING_URI": uri}), ("fork", {"MLFLOW_TRACKING_URI": ""})):
        summary = tmp_path / f"{case}-summary.md"
        env = {
            "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(tmp_path / "out"),
            "MODELPINS_HTTP_RETRIES": "0", "MODELPINS_TRACKING_URI_LABEL": label, **extra,
        }  # fmt: skip
        # Every step of the workflows that writes a comment or a summary, as the action runs them.
        steps = [
            ["plan", "--base", "main"],
            ["gate", "--base", "main", "--no-record", "--report", f"{case}-gates.md"],
            ["report", "--base", "main", "--gates", f"{case}-gates.md", "--gates-outcome", "skipped",
             "--out", f"{case}-comment.md", *(["--no-comment"] if case == "fork" else [])],
            ["gate", "--report", str(summary)],
            ["plan", "--summary"],
            ["drift"],
            ["validate"],
        ]  # fmt: skip
        results = [run(*c, cwd=root, env=env) for c in steps]
        comment = (root / f"{case}-comment.md").read_text()
        outputs |= {f"{case} comment": comment, f"{case} summary": summary.read_text()}
        outputs |= {f"{case} {' '.join(c)}": r.stdout + r.stderr for c, r in zip(steps, results, strict=True)}
        assert case == "fork" or "fork" not in comment.lower()  # a same-repository PR is not told of forks
    for where, text in outputs.items():
        for hidden in (f"127.0.0.1:{port}", SECRET_HOST, str(port), PASSWORD, USER):
            assert hidden not in text, f"{where} shows {hidden!r}:\n{text}"
    assert f"registry not read: MLflow server at {label}" in outputs["down comment"]
    assert "Not run: the registry could not be read" in outputs["down comment"]
    assert "Not run in this check (it has no registry access)" in outputs["fork comment"]
    assert "comment" not in outputs["fork summary"].lower().replace("modelpins:", "")


# every secret variable modelpins knows, each set to a value of its own, so a leak names its variable
MARKERS = {
    "MLFLOW_TRACKING_TOKEN": "mk-default-token-4f1a",
    "MLFLOW_TRACKING_PASSWORD": "mk-default-password-7c2e",
    "GITHUB_TOKEN": "mk-github-token-9d3b",
    "MODELPINS_TEAMS_TOKEN": "mk-teams-token-2a8f",
    "MODELPINS_WEBHOOK_SECRET": "mk-webhook-secret-5e6d0b1c",
    "MODELPINS_ENV_PROD_MLFLOW_TRACKING_TOKEN": "mk-prod-token-3b7a",
    "MODELPINS_ENV_PROD_MLFLOW_TRACKING_PASSWORD": "mk-prod-password-8e4c",
    "MODELPINS_ENV_STAGING_EU_MLFLOW_TRACKING_TOKEN": "mk-staging-token-1d9f",
    "MODELPINS_ENV_STAGING_EU_MLFLOW_TRACKING_PASSWORD": "mk-staging-password-6a2b",
}
URI_PASSWORD = "mk-uri-password-0c5e"

DUMPING_GATE = """import json, os, pathlib, sys
request = sys.stdin.read()
out = pathlib.Path(os.environ["DUMPS"])
out.mkdir(exist_ok=True)
(out / (os.environ["MODELPINS_GATE"] + ".env.json")).write_text(json.dumps(dict(os.environ)))
(out / (os.environ["MODELPINS_GATE"] + ".stdin.json")).write_text(request)
said = {said!r}
if sys.argv[1] == "crash":
    print("config:", said, file=sys.stderr)
    sys.exit(1)
print(json.dumps({{"passed": False, "value": 1, "threshold": said[0], "detail": "config: " + said}}))
"""


def markers_in(text: str) -> list[str]:
    plain = text.translate({ord(c): None for c in INVISIBLE})
    return [name for name, value in {**MARKERS, "URI": URI_PASSWORD}.items() if value in plain]


def test_no_secret_variable_reaches_an_output_a_file_or_a_gate(mlflow_server, client, tmp_path: Path) -> None:
    """Every secret variable set at once: none is printed, written, tagged, or given to a gate that did not ask."""
    model = unique("markers")
    seed_model(client, model, 3, {"champion": 1})
    root = tmp_path / "repo"
    (root / "gates").mkdir(parents=True)
    said = " ".join(MARKERS.values()) + " " + URI_PASSWORD
    (root / "gates" / "dump.py").write_text(DUMPING_GATE.format(said=said))
    pins = root / "model_pins.yaml"
    gates = "    gates:\n      champion:\n" + "".join(
        f"        - {{kind: command, name: {n}, run: [python, gates/dump.py, {n}]}}\n" for n in ("verdict", "crash")
    )
    pins.write_text(HEAD_PINS.format(model=model, version=1) + gates)
    git(root, "init", "-q", "-b", "main")
    who = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    git(root, "add", "-A")
    git(root, *who, "commit", "-qm", "pins")
    pins.write_text(HEAD_PINS.format(model=model, version=2) + gates)
    git(root, *who, "commit", "-qam", "Promote v2 (#8)")
    summary, output, dumps = tmp_path / "summary.md", tmp_path / "output.txt", tmp_path / "dumps"
    env = {
        **MARKERS,
        "MLFLOW_TRACKING_URI": mlflow_server.url.replace("http://", f"http://ci:{URI_PASSWORD}@"),
        "MLFLOW_TRACKING_USERNAME": "ci",
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "DUMPS": str(dumps),
        "MODELPINS_ACTOR": "ci",
    }
    commands = [
        ["validate"],
        ["plan", "--json"],
        ["gate", "--report", "gates.md", "--no-record"],
        ["gate", "--json"],
        ["gate", "--base", "HEAD~1", "--json", "--no-record"],
        ["report", "--base", "HEAD~1", "--gates", "gates.md", "--gates-outcome", "failure", "--out", "comment.md"],
        ["status"],
        ["history", f"{model}@champion", "--json"],
        ["lineage", f"{model}@champion"],
    ]
    results = [run(*c, cwd=root, env=env) for c in commands]
    assert [r.returncode for r in results] == [0, 0, 1, 1, 1, 0, 0, 0, 0], [(r.args, r.stderr) for r in results]
    assert "config:" in results[2].stdout and "config:" in (root / "gates.md").read_text(), "the gate's text is shown"

    shown = {
        f"{' '.join(r.args[3:])} ({s})": t for r in results for s, t in (("stdout", r.stdout), ("stderr", r.stderr))
    }
    files = {
        str(p.relative_to(tmp_path)): p.read_text()
        for p in tmp_path.rglob("*")
        if p.is_file() and ".git" not in p.parts and p.name != "dump.py"
    }  # fmt: skip (the gate says them all itself)
    tags = {f"v{v.version} {k}": value for v in client.search_model_versions(f"name = '{model}'")
            for k, value in v.tags.items()}  # fmt: skip
    assert {f"dumps/{g}.env.json" for g in ("verdict", "crash")} <= set(files), "each gate dumped its environment"
    found = {where: markers_in(text) for where, text in {**shown, **files, **tags}.items() if markers_in(text)}
    assert found == {}, f"secrets shown: {found}"
    gate_env = json.loads(files["dumps/verdict.env.json"])
    assert gate_env["MLFLOW_TRACKING_URI"] == mlflow_server.url, "the server under test, without user-info"
    assert not [
        k for k in gate_env if k.startswith(("MODELPINS_ENV_", "MLFLOW_TRACKING_")) and k != "MLFLOW_TRACKING_URI"
    ]


HEAD_PINS = """version: 1
models:
  {model}:
    aliases:
      champion: {version}
"""


def test_a_gate_that_asks_gets_only_the_evaluated_registrys_credentials(tmp_path: Path) -> None:
    """`registry_credentials: true` gives a script the credentials of the server its alias lives in, and no other's;
    without it, none at all (in process: the environment a gate script is started with)."""
    from modelpins.gates import Subject, Target
    from modelpins.gates.command import gate_env
    from modelpins.pins import Gate
    from modelpins.registry import MlflowRegistry, environment_env

    env = {
        **MARKERS,
        "PATH": "/usr/bin",
        "MLFLOW_TRACKING_USERNAME": "ci",
        "MODELPINS_ENV_PROD_MLFLOW_TRACKING_USERNAME": "p",
    }
    default = MlflowRegistry(f"http://ci:{URI_PASSWORD}@127.0.0.1:9", env=env)
    prod = MlflowRegistry("https://mlflow.prod.example", env=environment_env("prod", env))

    def target(registry: MlflowRegistry) -> Target:
        return Target("champion", Subject("m", 2), 1, {}, registry.tracking_uri, tmp_path, None, registry.credentials())

    asks, does_not = Gate("command", "g", run=("x",), registry_credentials=True), Gate("command", "g", run=("x",))
    for_prod = gate_env(asks, target(prod), env)
    assert {k: v for k, v in for_prod.items() if "MLFLOW" in k} == {
        "MLFLOW_TRACKING_URI": "https://mlflow.prod.example",
        "MLFLOW_TRACKING_TOKEN": MARKERS["MODELPINS_ENV_PROD_MLFLOW_TRACKING_TOKEN"],
        "MLFLOW_TRACKING_USERNAME": "p",
        "MLFLOW_TRACKING_PASSWORD": MARKERS["MODELPINS_ENV_PROD_MLFLOW_TRACKING_PASSWORD"],
    }
    for_default = gate_env(asks, target(default), env)
    assert for_default["MLFLOW_TRACKING_TOKEN"] == MARKERS["MLFLOW_TRACKING_TOKEN"]
    assert for_default["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:9", "user-info is never in the URI given"
    assert markers_in(json.dumps(for_default)) == ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD"]
    assert markers_in(json.dumps(gate_env(does_not, target(prod), env))) == []
    assert gate_env(does_not, target(prod), env)["PATH"] == "/usr/bin"


def test_a_password_only_in_the_uri_becomes_the_gates_basic_credentials(tmp_path: Path) -> None:
    from modelpins.registry import MlflowRegistry

    registry = MlflowRegistry(f"http://ci:{URI_PASSWORD}@127.0.0.1:9", env={})
    assert registry.credentials() == {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": URI_PASSWORD}


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_every_secret_variable_is_redacted(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, MARKERS[name])
    assert redact(f"detail: {MARKERS[name]}!") == "detail: ***!"


def _pki(tmp_path: Path) -> dict[str, Path]:
    """A CA made here, a server certificate for 127.0.0.1 and a client certificate (with its key, one PEM file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(name: str, key, issuer_name, issuer_key, *, ca=False, usage=None, san=None):
        b = x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        b = b.issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        b = b.public_key(key.public_key()).serial_number(x509.random_serial_number())
        b = b.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key or key, hashes.SHA256())

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())  # fmt: skip

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("modelpins test CA", ca_key, None, None, ca=True)
    server = cert("127.0.0.1", server_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                  san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])  # fmt: skip
    client = cert("ci", client_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    files = {"ca": tmp_path / "ca.pem", "server": tmp_path / "server.pem", "client": tmp_path / "client.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["server"].write_bytes(server.public_bytes(serialization.Encoding.PEM) + pem_key(server_key))
    files["client"].write_bytes(client.public_bytes(serialization.Encoding.PEM) + pem_key(client_key))
    return files


def test_a_client_certificate_reaches_a_server_that_requires_one(mlflow_server, client, tmp_path: Path) -> None:
    """MLFLOW_TRACKING_CLIENT_CERT_PATH (mutual TLS) was ignored: the handshake failed as if it were unset.

    A TLS proxy made with python's ssl stands in front of the real MLflow server and requires a client
    certificate signed by a CA generated here."""
    import ssl

    pki = _pki(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    proxy = Proxy(mlflow_server.url, tls=context).start()
    model = unique("mtls")
    seed_model(client, model, 2, {"champion": 1})
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(HEAD_PINS.format(model=model, version=2))
    env = {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_SERVER_CERT_PATH": str(pki["ca"]),
           "MODELPINS_HTTP_RETRIES": "0"}  # fmt: skip
    try:
        without = run("--pins", pins, "plan", env=env)
        with_cert = run("--pins", pins, "plan", env={**env, "MLFLOW_TRACKING_CLIENT_CERT_PATH": str(pki["client"])})
        missing = run("--pins", pins, "plan", env={**env, "MLFLOW_TRACKING_CLIENT_CERT_PATH": str(tmp_path / "no")})
    finally:
        proxy.stop()
    assert without.returncode == 1 and "TLS failed" in without.stderr, without.stderr
    assert with_cert.returncode == 0, with_cert.stderr
    assert f"{model}  champion  1     2   move" in with_cert.stdout, with_cert.stdout  # read through mutual TLS
    assert missing.returncode == 2 and "MLFLOW_TRACKING_CLIENT_CERT_PATH" in missing.stderr
