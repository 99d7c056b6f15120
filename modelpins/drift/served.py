"""Served drift: where what a cluster runs differs from what the pins file renders.

The desired objects are `render.resolved` for each environment; the live ones are read
through the cluster adapter (every object labelled `app.kubernetes.io/managed-by: modelpins`
in the environment's namespace, plus a get for each rendered object that listing missed).
The comparison is pure and looks only at what decides what is served:

| kind       | field                | compared                                                         |
| ---------- | -------------------- | ---------------------------------------------------------------- |
| any        | object               | rendered but missing; managed but no longer rendered             |
| Deployment | image [(container)]  | each container's and init container's image                      |
| Deployment | args [(container)]   | each container's command and arguments (the model paths vLLM     |
|            |                      | loads), shown as the stretch that differs                        |
| Deployment | model, version       | the pod template's `modelpins.io/` annotations (what pods carry) |
| Service    | selector             | the keys that differ (blue-green's active colour)                |
| HTTPRoute  | backends [(rule N)]  | backends with their weights, and mirrors (shadow)                |

Replicas (an autoscaler may own them), resources, probes and whatever the API server
defaults are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from modelpins import tags
from modelpins.escape import code, markdown_table, text
from modelpins.text import columns

KINDS = ("Deployment", "Service", "PodDisruptionBudget", "HTTPRoute")
ANNOTATIONS = (("model", tags.MODEL), ("version", tags.SERVED_VERSION))

Key = tuple[str, str]  # (kind, name) inside one namespace


class ClusterReader(Protocol):
    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None: ...
    def managed(self, kind: str, namespace: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ServedDrift:
    environment: str
    namespace: str
    kind: str  # Kubernetes kind
    name: str  # object name
    deployment: str  # the pins file's deployment the object belongs to
    field: str
    expected: str | None
    actual: str | None

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    @property
    def status(self) -> str:
        if self.field == "object":
            return "missing in cluster" if self.actual is None else "not rendered"
        return "changed"

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "namespace": self.namespace,
            "kind": self.kind,
            "name": self.name,
            "deployment": self.deployment,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
        }


def key(obj: Mapping[str, Any]) -> Key:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def read_live(api: ClusterReader, desired: Iterable[dict[str, Any]], namespace: str) -> dict[Key, dict[str, Any]]:
    """The live objects of `namespace` to compare: every managed one, and each desired one found by name."""
    live = {key(o): o for kind in KINDS for o in api.managed(kind, namespace)}
    for obj in desired:
        if obj["kind"] in KINDS and key(obj) not in live:
            found = api.get(obj)
            if found is not None:
                live[key(obj)] = {**found, "kind": obj["kind"]}
    return live


def compare(
    environment: str,
    namespace: str,
    desired: list[dict[str, Any]],
    live: Mapping[Key, dict[str, Any]],
    rendered_elsewhere: frozenset[Key] = frozenset(),
    unexpected: bool = True,
) -> list[ServedDrift]:
    """Every difference between the rendered objects of one environment and the live ones in its namespace.

    `rendered_elsewhere`: objects another environment sharing this namespace renders (not unexpected here);
    `unexpected`: also report managed objects nothing renders (once per namespace).
    """
    out: list[ServedDrift] = []
    wanted = [o for o in desired if o["kind"] in KINDS]

    def row(obj: Mapping[str, Any], field: str, expected: str | None, actual: str | None) -> None:
        part_of = (obj["metadata"].get("labels") or {}).get(tags.PART_OF, "")
        out.append(ServedDrift(environment, namespace, *key(obj), part_of, field, expected, actual))

    for want in wanted:
        have = live.get(key(want))
        if have is None:
            row(want, "object", "present", None)
            continue
        for field, expected, actual in FIELDS.get(want["kind"], _nothing)(want, have):
            row(want, field, expected, actual)
    known = {key(o) for o in wanted} | rendered_elsewhere
    for k in sorted(live) if unexpected else []:
        obj = live[k]
        if k not in known and (obj["metadata"].get("labels") or {}).get(tags.MANAGED_BY) == tags.MANAGER:
            row(obj, "object", None, "present")
    return out


def check(
    api: ClusterReader, rendered: Mapping[str, tuple[str, list[dict[str, Any]]]], chosen: Iterable[str]
) -> list[ServedDrift]:
    """Served drift of the `chosen` environments; `rendered`: environment -> (namespace, objects), for all of them.

    Objects another environment renders into the same namespace are not reported as unexpected.
    """
    out: list[ServedDrift] = []
    seen: set[str] = set()
    for env in chosen:
        namespace, objects = rendered[env]
        elsewhere = frozenset(
            key(o) for other, (ns, objs) in rendered.items() if other != env and ns == namespace for o in objs
        )
        live = read_live(api, objects, namespace)
        out += compare(env, namespace, objects, live, elsewhere, unexpected=namespace not in seen)
        seen.add(namespace)
    return out


Diff = tuple[str, str | None, str | None]


def _containers(obj: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return {str(c["name"]): c for c in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]}


def _deployment(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[Diff]:
    out: list[Diff] = []
    want_c, have_c = _containers(want), _containers(have)
    main = [c["name"] for c in want["spec"]["template"]["spec"]["containers"]]
    for name, container in want_c.items():
        label = "" if main == [name] else f" ({name})"
        live = have_c.get(name)
        if live is None:
            out.append((f"container{label}", "present", None))
            continue
        if container["image"] != live.get("image"):
            out.append((f"image{label}", container["image"], live.get("image")))
        if _args(container) != _args(live):
            out.append((f"args{label}", *_differing(_args(container), _args(live))))
    for name in have_c.keys() - want_c.keys():
        out.append((f"container ({name})", None, "present"))
    want_a = want["spec"]["template"]["metadata"].get("annotations") or {}
    have_a = (have.get("spec", {}).get("template", {}).get("metadata", {}) or {}).get("annotations") or {}
    for field, annotation in ANNOTATIONS:
        if want_a.get(annotation) != have_a.get(annotation):
            out.append((field, want_a.get(annotation), have_a.get(annotation)))
    return out


def _args(container: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]


def _differing(a: list[str], b: list[str]) -> tuple[str, str]:
    """The arguments that differ, with the option they follow: ('--model /models/m/3', '--model /models/m/4')."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    if start and a[start - 1].startswith("-"):
        start -= 1

    def part(args: list[str]) -> str:
        middle = " ".join(args[start : len(args) - end]) or "(none)"
        return ("... " if start else "") + middle + (" ..." if end else "")

    return part(a), part(b)


def _nothing(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[Diff]:
    return []  # a PodDisruptionBudget: compared for presence only


def _service(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[Diff]:
    a = dict(want.get("spec", {}).get("selector") or {})
    b = dict(have.get("spec", {}).get("selector") or {})
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if not keys:
        return []
    return [("selector", _selector(a, keys), _selector(b, keys))]


def _selector(sel: Mapping[str, str], keys: list[str]) -> str:
    return ", ".join(f"{k}={sel[k]}" if k in sel else f"{k} (unset)" for k in keys)


def _route(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[Diff]:
    a = [_backends(r) for r in want.get("spec", {}).get("rules") or []]
    b = [_backends(r) for r in have.get("spec", {}).get("rules") or []]
    out: list[Diff] = []
    for i in range(max(len(a), len(b))):
        expected, actual = (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
        if expected != actual:
            out.append(("backends" if len(a) == 1 and len(b) <= 1 else f"backends (rule {i + 1})", expected, actual))
    return out


FIELDS = {"Deployment": _deployment, "Service": _service, "HTTPRoute": _route}  # the kinds whose fields count


def _backends(rule: Mapping[str, Any]) -> str:
    """'scoring-stable=90 scoring-candidate=10 mirror=scoring-candidate' (Gateway API: weight defaults to 1)."""
    parts = [f"{b.get('name')}={b.get('weight', 1)}" for b in rule.get("backendRefs") or []]
    for f in rule.get("filters") or []:
        if f.get("type") == "RequestMirror":
            parts.append(f"mirror={(f.get('requestMirror') or {}).get('backendRef', {}).get('name')}")
    return " ".join(parts)


def table(found: list[ServedDrift]) -> str:
    rows = [("ENVIRONMENT", "OBJECT", "FIELD", "EXPECTED", "ACTUAL", "")]
    rows += [(d.environment, d.ref, d.field, _s(d.expected), _s(d.actual), d.status) for d in found]
    return columns(rows)


def markdown(found: list[ServedDrift], source: str, where: str) -> str:
    if not found:
        return f"### Served drift\n\nNo drift: what {text(where)} serves matches {code(source)}.\n"
    n = len(found)
    head = ["environment", "object", "field", "expected (git)", "actual (cluster)", ""]
    rows = [
        [text(d.environment), code(f"{d.namespace}/{d.ref}"), text(d.field), _md(d.expected), _md(d.actual), d.status]
        for d in found
    ]
    intro = f"{n} difference{'s' if n != 1 else ''} between {text(where)} and {code(source)}:"
    fix = "To restore git's state: `modelpins rollout` (or let Argo CD / Flux sync `manifests/`)."
    return "\n".join(["### Served drift", "", intro, "", *markdown_table(head, rows), "", fix]) + "\n"


def _s(value: str | None) -> str:
    return "-" if value is None else value


def _md(value: str | None) -> str:
    return "-" if value is None else code(value)
