"""The rendered custom resources pass the upstream CRD schemas (devkit/crds), and the Argo Rollouts analysis
means what `canary advance` means.

Argo Rollouts `Rollout` and `AnalysisTemplate` and Gateway API `HTTPRoute` objects are validated with
devkit.crdcheck: jsonschema on each CRD's openAPIV3Schema, unknown fields rejected as `kubectl
--validate=strict` does. No API server runs here, so the CEL rules of the CRDs are not evaluated.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devkit import crdcheck
from modelpins import pins as pinsmod
from modelpins.canary.decide import Reading
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import render
from tests.serving.test_render import DOCKERFILE, GOLDEN, REPO, golden_sizes

CLASSIC_DOCKERFILE = (REPO / "deploy" / "Dockerfile.mlflow").read_bytes()

# An Argo Rollouts canary with every option of `analysis:`: window, min_requests, and queries below and
# above a threshold, each with and without a tolerance.
EVERY_OPTION = """\
          window: 10m
          min_requests: 250
          queries:
            error-ratio:
              query: >-
                sum(rate(vllm:request_success_total{$selector,finished_reason="abort"}[$window]))
                / sum(rate(vllm:request_success_total{$selector}[$window]))
              threshold: 0.02
              direction: below
            ttft-p95:
              query: >-
                histogram_quantile(0.95, sum by (le)
                (rate(vllm:time_to_first_token_seconds_bucket{$selector}[$window])))
              threshold: 2.0
              direction: below
              tolerance: 0.2
            tokens-per-second:
              query: sum(rate(vllm:generation_tokens_total{$selector}[$window]))
              threshold: 1
              direction: above
              tolerance: 0.3
            e2e-p95:
              query: >-
                histogram_quantile(0.95, sum by (le)
                (rate(vllm:e2e_request_latency_seconds_bucket{$selector}[$window])))
              threshold: 30
              direction: below
"""


def rendered(pins: Path, sizes=None) -> list[dict]:
    files = render(pinsmod.load(pins), ImageLock(), DOCKERFILE, sizes, classic_dockerfile=CLASSIC_DOCKERFILE)
    return [doc for name, text in sorted(files.items()) if name.endswith(".yaml") for doc in yaml.safe_load_all(text)]


@functools.cache
def golden() -> list[dict]:
    """The every-strategy render (tests/serving/golden); tests copy an object before they change it."""
    return rendered(GOLDEN / "model_pins.yaml", golden_sizes())


@pytest.fixture(scope="module")
def every_option(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The golden render with the Argo Rollouts canary's `analysis:` replaced by EVERY_OPTION."""
    text = (GOLDEN / "model_pins.yaml").read_text()
    start = text.index("        window: 5m\n", text.index("engine: argo-rollouts"))
    end = text.index("    replicas:", start)
    indented = "".join(line[2:] + "\n" for line in EVERY_OPTION.splitlines())
    pins = tmp_path_factory.mktemp("every-option") / "model_pins.yaml"
    pins.write_text(text[:start] + indented + text[end:])
    return rendered(pins, golden_sizes())


def custom_resources(objs: list[dict]) -> list[dict]:
    return [o for o in objs if crdcheck.checked(o)]


def by_kind(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def problems(objs: list[dict]) -> dict[str, list[str]]:
    return {f"{o['kind']}/{o['metadata']['name']}": e for o in custom_resources(objs) if (e := crdcheck.errors(o))}


def test_the_example_and_every_strategy_pass_the_upstream_crd_schemas() -> None:
    example = rendered(REPO / "model_pins.yaml")
    kinds = sorted({o["kind"] for o in custom_resources(golden())})
    assert kinds == ["AnalysisTemplate", "HTTPRoute", "Rollout"], "the every-strategy render has each checked kind"
    assert custom_resources(example), "the example renders HTTPRoutes"
    assert problems(example) == {}
    assert problems(golden()) == {}


def test_an_argo_canary_with_every_analysis_option_passes(every_option: list[dict]) -> None:
    template = by_kind(every_option, "AnalysisTemplate", "helpdesk-argo")

    names = [m["name"] for m in template["spec"]["metrics"]]
    assert names == [
        "min-requests",
        "min-requests-stable",
        "error-ratio",
        "ttft-p95",
        "ttft-p95-vs-stable",
        "tokens-per-second",
        "tokens-per-second-vs-stable",
        "e2e-p95",
    ]
    counts = {m["name"]: m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"][:2]}
    assert "{{args.canary-hash}}" in counts["min-requests"] and "{{args.stable-hash}}" in counts["min-requests-stable"]
    rollout = by_kind(every_option, "Rollout", "helpdesk-argo")
    passed = {
        a["name"]: a["valueFrom"]["podTemplateHashValue"]
        for a in rollout["spec"]["strategy"]["canary"]["analysis"]["args"]
    }
    assert passed == {"canary-hash": "Latest", "stable-hash": "Stable"}  # each track's traffic is counted
    assert problems(every_option) == {}


@pytest.mark.parametrize(
    ("where", "change", "complaint"),
    [
        (
            "Rollout",
            lambda o: o["spec"]["strategy"]["canary"]["steps"][0].update(setWeight="ten"),
            "steps[0].setWeight",
        ),
        ("Rollout", lambda o: o["spec"]["strategy"]["canary"].update(setWieght=10), "'setWieght' was unexpected"),
        (
            "Rollout",
            lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePolicy="Always"),
            "containers[0]",
        ),
        ("Rollout", lambda o: o["metadata"]["annotations"].update({"modelpins.io/version": 6}), "metadata.annotations"),
        ("AnalysisTemplate", lambda o: o["spec"]["metrics"][1].update(successCondtion="result[0] < 1"), "metrics[1]"),
        ("AnalysisTemplate", lambda o: o["spec"]["metrics"][1].update(failureLimit=[0]), "metrics[1].failureLimit"),
        ("HTTPRoute", lambda o: o["spec"]["rules"][0]["backendRefs"][0].update(weight=-1), "weight"),
        ("HTTPRoute", lambda o: o["spec"]["rules"][0].update(backends=[]), "'backends' was unexpected"),
    ],
)
def test_a_wrong_object_is_reported_with_its_field(where: str, change, complaint: str) -> None:
    obj = copy.deepcopy(by_kind(golden(), where, "helpdesk-argo"))
    change(obj)

    found = crdcheck.errors(obj)
    assert found and any(complaint in e for e in found), found


def test_int_or_string_fields_take_either() -> None:
    template = by_kind(golden(), "AnalysisTemplate", "helpdesk-argo")
    for value in (0, "0", "{{args.limit}}"):
        obj = copy.deepcopy(template)
        obj["spec"]["metrics"][0]["failureLimit"] = value
        assert crdcheck.errors(obj) == []


def test_the_checker_fails_a_directory_with_a_wrong_object_and_names_it(tmp_path: Path, capsys) -> None:
    rollout = copy.deepcopy(by_kind(golden(), "Rollout", "helpdesk-argo"))
    rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = "ten"
    (tmp_path / "rollout.yaml").write_text(yaml.safe_dump(rollout))
    (tmp_path / "kustomization.yaml").write_text("resources: [rollout.yaml]\n")

    assert crdcheck.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'rollout.yaml'}: Rollout/helpdesk-argo: spec.strategy.canary.steps[0].setWeight" in out
    assert crdcheck.main([str(tmp_path / "nowhere")]) == 2


# --- a query's tolerance in the AnalysisTemplate, against modelpins.canary.decide


def metric(objs: list[dict], name: str) -> dict:
    template = by_kind(objs, "AnalysisTemplate", "helpdesk-argo")
    return next(m for m in template["spec"]["metrics"] if m["name"] == name)


def holds(condition: str, result: float) -> bool:
    """An Argo Rollouts condition of the form the renderer writes, on one measured value."""
    parsed = re.fullmatch(r"result\[0\] (<=|>=|<|>) (\S+)", condition)
    assert parsed, condition
    op, limit = parsed[1], float(parsed[2])
    return {"<=": result <= limit, ">=": result >= limit, "<": result < limit, ">": result > limit}[op]


def argo_passes(m: dict, candidate: float, stable: float) -> bool | None:
    """What Argo Rollouts concludes from one measurement of a `-vs-stable` metric: the query's arithmetic on
    the two tracks' values (read from the rendered query), then the conditions; None is inconclusive."""
    query = re.fullmatch(r"vector\(scalar\(.*\) - ([0-9.e-]+) \* scalar\(.*\)\)", m["provider"]["prometheus"]["query"])
    assert query, m["provider"]["prometheus"]["query"]
    result = candidate - float(query[1]) * stable
    if holds(m["successCondition"], result):
        return True
    return False if holds(m["failureCondition"], result) else None


@pytest.mark.parametrize("value", [0.0, 0.019, 0.02, 0.021, 0.999, 1.0, 1.5])
def test_a_threshold_passes_where_decide_passes(every_option: list[dict], value: float) -> None:
    for name, threshold, direction in (("error-ratio", 0.02, "below"), ("tokens-per-second", 1.0, "above")):
        reading = Reading(name, "", value, None, threshold, direction)
        assert holds(metric(every_option, name)["successCondition"], value) == (reading.failure() is None), name


def test_a_query_without_tolerance_renders_only_its_threshold(every_option: list[dict]) -> None:
    m = metric(every_option, "error-ratio")

    assert m["successCondition"] == "result[0] <= 0.02"
    assert "failureCondition" not in m
    assert "stable-hash" not in m["provider"]["prometheus"]["query"]
    template = by_kind(every_option, "AnalysisTemplate", "helpdesk-argo")
    assert "e2e-p95-vs-stable" not in [x["name"] for x in template["spec"]["metrics"]]


def test_a_query_with_tolerance_compares_the_canary_with_stable_in_one_query(every_option: list[dict]) -> None:
    below, above = metric(every_option, "ttft-p95-vs-stable"), metric(every_option, "tokens-per-second-vs-stable")

    track = 'namespace="ml-prod",app_kubernetes_io_name="helpdesk-argo",rollouts_pod_template_hash="{{args.%s}}"'
    one = "histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{%s}[10m])))"
    assert below["provider"]["prometheus"]["query"] == (
        f"vector(scalar({one % (track % 'canary-hash')}) - 1.2 * scalar({one % (track % 'stable-hash')}))"
    )
    assert (below["successCondition"], below["failureCondition"]) == ("result[0] <= 0", "result[0] > 0")
    assert above["provider"]["prometheus"]["query"].count(" - 0.7 * scalar(") == 1
    assert (above["successCondition"], above["failureCondition"]) == ("result[0] >= 0", "result[0] < 0")
    template = by_kind(every_option, "AnalysisTemplate", "helpdesk-argo")
    assert [a["name"] for a in template["spec"]["args"]] == ["canary-hash", "stable-hash", "prometheus-address"]
    analysis = by_kind(every_option, "Rollout", "helpdesk-argo")["spec"]["strategy"]["canary"]["analysis"]
    assert {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}} in analysis["args"]


@pytest.mark.parametrize(
    ("candidate", "stable"),
    [(2.0, 1.0), (1.2, 1.0), (1.2000001, 1.0), (1.19, 1.0), (0.5, 1.0), (0.0, 0.0), (1.0, 0.0), (3.0, 2.5)]
    + [(0.7, 1.0), (0.69, 1.0)],
)
def test_the_rendered_comparison_means_what_decide_means(every_option: list[dict], candidate, stable) -> None:
    for name, threshold, direction, tolerance in (
        ("ttft-p95", 1e9, "below", 0.2),
        ("tokens-per-second", -1e9, "above", 0.3),
    ):
        reading = Reading(name, "", candidate, stable, threshold, direction, tolerance)
        argo = argo_passes(metric(every_option, f"{name}-vs-stable"), candidate, stable)
        assert argo == (reading.failure() is None), (name, reading.failure())


def test_no_data_on_either_track_is_inconclusive_as_decide_holds(every_option: list[dict]) -> None:
    m = metric(every_option, "ttft-p95-vs-stable")
    nan = float("nan")  # scalar() of an empty or many-series result

    assert argo_passes(m, nan, 1.0) is None
    assert argo_passes(m, 1.0, nan) is None


def test_every_rendered_query_parses_with_prometheus(every_option: list[dict], tmp_path: Path) -> None:
    """Prometheus's own parser (promtool, from Debian's prometheus package) on each metric's query."""
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed (make sysdeps, or apt-get install prometheus)")
    template = by_kind(every_option, "AnalysisTemplate", "helpdesk-argo")
    rules = [
        {"record": f"check:{m['name'].replace('-', '_')}", "expr": m["provider"]["prometheus"]["query"]}
        for m in template["spec"]["metrics"]
    ]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}))

    done = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
