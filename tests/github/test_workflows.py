"""The workflows and the action, read as a reviewer reads them: the security rules hold for every
job and step, every step is one command that exists, and zizmor and actionlint find nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelpins.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / ".github" / "actions" / "modelpins" / "action.yml"
# Commands the workflows call that other parts of the project provide.
ELSEWHERE = {"gate", "drift", "build", "render", "rollout"}
UNTRUSTED = re.compile(r"github\.(event\.(pull_request|issue|comment|review)\.(title|body|head\.ref|labels)|head_ref)")
BIN = Path(sys.executable).parent


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def steps(doc: dict) -> list[dict]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


def test_the_expected_workflows_exist():
    names = {p.name for p in WORKFLOWS}
    assert {"pins-pr.yml", "pins-approvals.yml", "pins-apply.yml", "pins-drift.yml", "ci.yml"} <= names


# The jobs that write to the package registry and the repository: after merge, on main only, one
# pushes (and attests) the serving images; the publish jobs, one per environment, publish the
# rendered manifests and the image lock to the deploy branch that Argo CD / Flux reconcile.
CONTENTS_WRITERS = {
    ("pins-apply.yml", "build"): {"packages", "id-token", "attestations"},
    ("pins-apply.yml", "publish"): {"contents"},
    # The canary's advance job pushes each proposal's canary/* branch (to main only when a variable opts in).
    ("pins-canary.yml", "advance"): {"contents"},
}
# Jobs that set the modelpins / gates commit status on a pull request's head.
STATUS_SETTERS = {("pins-pr.yml", "check"), ("pins-fork-gates.yml", "gates")}
# The jobs that publish the promotion board to GitHub Pages: they hold no secret and run no
# repository code, only the deploy actions (pages + an OIDC token for the deployment).
PAGES_PUBLISHERS = {("pins-apply.yml", "pages"), ("pins-drift.yml", "pages")}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_triggers_and_permissions(path):
    doc = load(path)
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request_target" not in triggers
    if "workflow_run" in triggers:  # only the fork gates, which never check out the fork (the fork's pins: git show)
        assert path.name == "pins-fork-gates.yml"
        assert "head_sha }}\n          path" not in path.read_text() and "repository: ${{" not in path.read_text()
        assert all(
            "workflow_run" not in yaml.safe_dump(step.get("with", {}))
            for job in doc["jobs"].values()
            for step in job["steps"]
        ), "no action is given the fork's commit or repository"
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{path.name}:{name} must set its own permissions"
        writes = {k for k, v in perms.items() if v == "write"}
        allowed = {"pull-requests"} | CONTENTS_WRITERS.get((path.name, name), set())
        if (path.name, name) in STATUS_SETTERS:
            allowed |= {"statuses"}
        if (path.name, name) in PAGES_PUBLISHERS:
            allowed |= {"pages", "id-token"}
        else:
            assert "pages" not in perms, f"{path.name}:{name} asks for {perms}"
            assert "id-token" in allowed or "id-token" not in perms, f"{path.name}:{name} asks for {perms}"
        assert writes <= allowed, f"{path.name}:{name} asks for {writes}"
        if "secrets." in yaml.safe_dump(job):
            assert job.get("environment"), f"{path.name}:{name} uses secrets outside an environment"


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_steps_are_pinned_and_never_interpolate_into_shell(path):
    text = path.read_text()
    for line in text.splitlines():
        m = re.search(r"(?<![\w-])uses:\s*(\S+)", line)
        if m and not m.group(1).startswith(("$/", "./")):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", m.group(1)), line
            assert re.search(r"# v\d+\.\d+\.\d+", line), f"no version comment: {line}"
    assert not UNTRUSTED.search(text), "PR titles, bodies, branch names or labels must not be used"
    for step in steps(load(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"expression in run: {step['run']!r} (pass it through env:)"
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_step_is_one_known_command(path):
    calls = []
    for step in steps(load(path)):
        found = re.findall(r"^\s*modelpins\s+(?:--\S+\s+\S+\s+)*([a-z-]+)", step.get("run", ""), re.M)
        assert len(found) <= 1, f"one command per step: {step['run']!r}"
        calls += found
    for call in calls:
        assert call in COMMANDS or call in ELSEWHERE, f"unknown command 'modelpins {call}'"
    if path == ACTION:
        assert {"validate", "plan", "gate", "report", "comment", "approvals", "apply", "drift"} <= set(calls)


def test_codeowners_is_current():
    result = subprocess.run([BIN / "modelpins", "codeowners", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "argv",
    [["zizmor", "--offline", ".github"], ["actionlint"]],
    ids=["zizmor", "actionlint"],
)
def test_linters_find_nothing(argv):
    result = subprocess.run([BIN / argv[0], *argv[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_argocd_and_flux_track_the_branch_the_publish_jobs_publish_to():
    script = (ROOT / "scripts" / "publish_manifests.sh").read_text()
    branch = re.search(r"branch=\$\{MODELPINS_DEPLOY_BRANCH:-([\w./-]+)\}", script)
    assert branch and branch.group(1) != "main"
    argocd = [load(p)["spec"]["source"]["targetRevision"] for p in sorted((ROOT / "deploy" / "argocd").glob("*.yaml"))]
    flux = load(ROOT / "deploy" / "flux" / "source.yaml")["spec"]["ref"]["branch"]
    assert argocd and set(argocd) == {flux} == {branch.group(1)}
    job = load(ROOT / ".github" / "workflows" / "pins-apply.yml")["jobs"]["publish"]
    publish = next(s for s in job["steps"] if "publish_manifests.sh" in s.get("run", ""))
    assert "MODELPINS_DEPLOY_BRANCH" not in publish.get("env", {})  # the default, which the clusters track


def test_each_environment_is_published_by_its_own_job_in_its_own_environment():
    jobs = load(ROOT / ".github" / "workflows" / "pins-apply.yml")["jobs"]
    publish = jobs["publish"]
    environments = sorted(p.name for p in (ROOT / "manifests").iterdir() if (p / "kustomization.yaml").exists())
    assert sorted(publish["strategy"]["matrix"]["environment"]) == environments == ["production", "staging"]
    assert publish["environment"] == "${{ matrix.environment }}" and publish["strategy"]["fail-fast"] is False
    assert publish["strategy"]["max-parallel"] == 1  # the publishes never race on the deploy branch
    step = next(s for s in publish["steps"] if "publish_manifests.sh" in s.get("run", ""))
    assert step["env"]["MODELPINS_PUBLISH_ENV"] == "${{ matrix.environment }}"
    assert publish["permissions"] == {"contents": "write"}
    assert "secrets.MLFLOW" not in yaml.safe_dump(publish)  # publishing needs no registry credential


def test_every_pins_apply_job_that_checks_out_uses_the_branch_head():
    """A re-run of an older run must not apply, build, render or publish its stale commit."""
    for name, job in load(ROOT / ".github" / "workflows" / "pins-apply.yml")["jobs"].items():
        for s in job["steps"]:
            if str(s.get("uses", "")).startswith("actions/checkout@"):
                assert s["with"]["ref"] == "${{ github.ref }}", name


def test_the_board_is_published_after_apply_and_on_the_drift_schedule():
    for workflow, after in (("pins-apply.yml", ["apply"]), ("pins-drift.yml", None)):
        jobs = load(ROOT / ".github" / "workflows" / workflow)["jobs"]
        build, pages = jobs["site"], jobs["pages"]
        assert build.get("needs") == (after[0] if after else None)
        assert any("modelpins site --out" in s.get("run", "") for s in build["steps"])
        assert pages["needs"] == "site" and pages["environment"]["name"] == "github-pages"
        assert "secrets." not in yaml.safe_dump(pages)  # the deploying job never sees the registry token
        assert not any("run" in s for s in pages["steps"])  # nor runs repository code
        assert [s["uses"].split("@")[0] for s in pages["steps"]] == ["actions/configure-pages", "actions/deploy-pages"]
        assert "pages" not in build["permissions"] and "id-token" not in build["permissions"]


def test_only_the_build_job_attests_and_only_what_it_pushed():
    perms = {(p.name, n): j.get("permissions", {}) for p in WORKFLOWS for n, j in load(p)["jobs"].items()}
    for scope in ("id-token", "attestations"):
        writers = [k for k, v in perms.items() if v.get(scope) == "write" and k not in PAGES_PUBLISHERS]
        assert writers == [("pins-apply.yml", "build")], scope
    steps = load(ROOT / ".github" / "workflows" / "pins-apply.yml")["jobs"]["build"]["steps"]
    build = next(i for i, s in enumerate(steps) if "modelpins build --push" in s.get("run", ""))
    attest = next(
        i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/attest-build-provenance@")
    )
    assert attest == build + 1  # right after the push, from the subjects file the build step wrote
    assert "--subjects images.sha256" in steps[build]["run"]
    assert steps[attest]["with"] == {"subject-checksums": "images.sha256"}


def test_only_the_build_job_logs_in_to_the_image_registry():
    logins = [
        (path.name, name)
        for path in WORKFLOWS
        for name, job in load(path)["jobs"].items()
        for s in job.get("steps", [])
        if str(s.get("uses", "")).startswith("docker/login-action@")
    ]
    assert logins == [("pins-apply.yml", "build")]
    perms = {(p.name, n): j.get("permissions", {}) for p in WORKFLOWS for n, j in load(p)["jobs"].items()}
    assert [k for k, v in perms.items() if v.get("packages") == "write"] == logins


def test_pins_apply_runs_on_every_change_that_changes_what_is_rendered_or_built():
    """Not only model_pins.yaml: the lock (layouts, ranks, sizes), the Dockerfiles and image lock (image tags),
    and the renderer itself change the manifests the deploy branch must get."""
    paths = load(ROOT / ".github" / "workflows" / "pins-apply.yml")[True]["push"]["paths"]

    def triggers(file: str) -> bool:
        return any(re.fullmatch(re.escape(p).replace(r"\*\*", ".*").replace(r"\*", "[^/]*"), file) for p in paths)

    inputs = ["model_pins.yaml", "model_pins.lock", "deploy/Dockerfile", "deploy/Dockerfile.mlflow",
              "deploy/images.lock.json", "modelpins/serving/objects.py", "modelpins/pins/serving.py",
              "requirements/runtime.txt", "pyproject.toml"]  # fmt: skip
    assert [f for f in inputs if not triggers(f)] == []
    assert not triggers("README.md") and not triggers("tests/serving/test_render.py")


def test_the_canary_job_proposes_pull_requests_unless_a_variable_opts_in_to_pushing_main():
    """A protected main refuses the job token's push: by default every decision is a pull request, and the one step
    that pushes to main runs only with MODELPINS_CANARY_COMMIT=true (tests/workflows runs both under act)."""
    job = load(ROOT / ".github" / "workflows" / "pins-canary.yml")["jobs"]["advance"]
    assert job["if"] == "github.ref == 'refs/heads/main'"  # a manual run from another branch does nothing
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = {s["if"]: s["run"] for s in job["steps"] if "run" in s}
    assert set(runs) == {"vars.MODELPINS_CANARY_COMMIT != 'true'", "vars.MODELPINS_CANARY_COMMIT == 'true'"}
    default, opted_in = runs["vars.MODELPINS_CANARY_COMMIT != 'true'"], runs["vars.MODELPINS_CANARY_COMMIT == 'true'"]
    assert "modelpins canary advance --open-pr" in default
    assert "--commit" not in default and "refs/heads/main" not in default and "git push" not in default
    assert (
        "modelpins canary advance --commit" in opted_in and "git push --quiet origin HEAD:refs/heads/main" in opted_in
    )
    doc = (ROOT / "docs" / "how-to" / "canary.md").read_text()
    assert "MODELPINS_CANARY_COMMIT" in doc


# The kind end-to-end workflow runs only on GitHub-hosted runners (no Kubernetes API or kind runs where these
# tests run), so these tests read its shape: what it installs, how that is pinned, the Gateway it makes and the
# request it sends. Whether the controller accepts the route and NGINX splits the traffic is proved there only.
E2E = ROOT / ".github" / "e2e"


def e2e_steps() -> list[str]:
    """The run.sh step each e2e-kind step runs, in order."""
    job = load(ROOT / ".github" / "workflows" / "e2e-kind.yml")["jobs"]["e2e"]
    return [
        m.group(1) for s in job["steps"] if (m := re.fullmatch(r"bash \.github/e2e/run\.sh (\w+)", s.get("run", "")))
    ]


def e2e_function(name: str) -> str:
    script = (E2E / "run.sh").read_text()
    return script[script.index(f"\n{name}() {{") : script.index("\n}\n", script.index(f"\n{name}() {{"))]


def test_the_kind_run_installs_a_gateway_controller_pinned_by_commit_before_it_rolls_out():
    steps = e2e_steps()
    assert steps.index("controller") < steps.index("gateway") < steps.index("rollout") < steps.index("route")
    script = (E2E / "run.sh").read_text()
    commit = re.search(r"^NGF_COMMIT=([0-9a-f]{40})$", script, re.M)
    assert commit and re.search(r"^NGF_VERSION=\d+\.\d+\.\d+$", script, re.M)
    assert re.search(r"^GATEWAY_API_VERSION=v\d+\.\d+\.\d+$", script, re.M)
    controller = e2e_function("controller")
    # fetched by its commit id (git checks the content against it), and checked to be that commit and version
    assert 'fetch -q --depth 1 https://github.com/nginx/nginx-gateway-fabric "$NGF_COMMIT"' in controller
    assert 'test "$(git -C "$src" rev-parse HEAD)" = "$NGF_COMMIT"' in controller
    assert "nginx-gateway-fabric:$NGF_VERSION" in controller and "bundle-version: $GATEWAY_API_VERSION" in controller
    assert "sha256sum" in controller  # what was applied is recorded in the job summary
    assert "releases/download" not in script and "https://raw." not in script  # nothing applied by an unpinned URL


def rendered_e2e(tmp_path: Path) -> dict:
    out = tmp_path / "m"
    result = subprocess.run(
        [BIN / "modelpins", "--pins", E2E / "model_pins.yaml", "render", "--dockerfile", "deploy/Dockerfile",
         "--out", out],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [route] = [yaml.safe_load(p.read_text()) for p in out.rglob("httproute-*.yaml")]
    return route


def made_gateway(tmp_path: Path) -> list[dict]:
    """The objects run.sh `gateway` applies, from its own Python (run here on the e2e pins file)."""
    body = e2e_function("gateway")
    start = body.index("\n", body.index("<<'PY'")) + 1
    code = body[start : body.index("\nPY\n")]
    result = subprocess.run(
        [sys.executable, "-", E2E / "model_pins.yaml"], input=code, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return list(yaml.safe_load_all(result.stdout))


def test_the_kind_run_makes_the_gateway_the_rendered_route_attaches_to_with_the_documented_allowed_routes(tmp_path):
    route = rendered_e2e(tmp_path)
    [namespace, gateway] = made_gateway(tmp_path)
    [parent] = route["spec"]["parentRefs"]
    assert (gateway["metadata"]["namespace"], gateway["metadata"]["name"]) == (parent["namespace"], parent["name"])
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": parent["namespace"]}}
    assert gateway["spec"]["gatewayClassName"] == "nginx"  # NGINX Gateway Fabric's class, from its manifests
    rules = (ROOT / "docs" / "reference" / "serving-rules.md").read_text()
    documented = yaml.safe_load("allowedRoutes:" + rules.split("allowedRoutes:", 1)[1].split("```", 1)[0])
    [listener] = gateway["spec"]["listeners"]
    expr = documented["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"][0]
    e2e_namespaces = [e["namespace"] for e in load(E2E / "model_pins.yaml")["environments"].values()]
    assert listener["allowedRoutes"] == {
        "namespaces": {"from": "Selector", "selector": {"matchExpressions": [{**expr, "values": e2e_namespaces}]}}
    }
    assert "gateway" in e2e_steps()


def test_the_kind_run_sends_requests_through_the_gateway_and_needs_an_answer_from_each_track(tmp_path):
    route = rendered_e2e(tmp_path)
    [rule] = route["spec"]["rules"]
    prefix = rule["matches"][0]["path"]["value"]
    weights = {b["name"]: b["weight"] for b in rule["backendRefs"]}
    assert set(weights) == {"scorer-stable", "scorer-candidate"} and all(weights.values())  # a canary split
    body = e2e_function("route")
    # to the Gateway's own NGINX Service (found by the Gateway's label), on the route's path
    assert "port-forward" in body and "gateway.networking.k8s.io/gateway-name=e2e" in body
    assert f"curl -fsS http://127.0.0.1:8080{prefix}/v1/models" in body
    for cond in ("Accepted", "ResolvedRefs"):
        assert cond in body  # the route's conditions are waited for
    # each answer names the model directory of the pod that gave it; both tracks must answer
    assert '"root": "/models/e2e-scorer/1/model"' in body and '"root": "/models/e2e-scorer/2/model"' in body
    assert '[ "$stable" -eq 0 ] || [ "$candidate" -eq 0 ]' in body
    server = (E2E / "stand-in" / "vllm" / "entrypoints" / "openai" / "api_server.py").read_text()
    assert '"root": args.model' in server
