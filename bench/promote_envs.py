"""Promotion of N models from staging to production, next to a naive `copy_model_version` loop.

    .venv/bin/python bench/promote_envs.py [--models 100]

Each model has one version in staging with staging's champion on it. Measured through recording
proxies (one in front of each server), each a fresh process:
  - one server, per-environment names (`staging.{model}` -> `prod.{model}`): `modelpins apply`,
    and the naive loop with MLflow's client: `copy_model_version("models:/staging.M/1", "prod.M")`
    then `set_registered_model_alias` per model;
  - the same apply again (modelpins: reads only; the naive loop copies every model a second time);
  - two servers (staging, production): `modelpins apply`, copies across servers.
modelpins also writes, per model, the provenance tag (in the create request), an audit tag and the
apply lock's two writes per environment. Server data lives in .bench/promote_envs, deleted first.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from common import ROOT, Proxy, Rest, machine, run_measured

from devkit.devserver import DevServer

PY = sys.executable
NAIVE = """
import sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
for name in sys.argv[2].split(","):
    copy = client.copy_model_version(f"models:/staging.{name}/1", f"prod.{name}")
    client.set_registered_model_alias(f"prod.{name}", "champion", copy.version)
"""


def pins_text(names: list[str], staging: str, production: str, templates: tuple[str, str]) -> str:
    lines = [
        "version: 1",
        "environments:",
        "  staging:",
        "    namespace: ml-staging",
        f'    registry: {{tracking_uri: "{staging}", model: "{templates[0]}"}}',
        "  production:",
        "    namespace: ml-production",
        f'    registry: {{tracking_uri: "{production}", model: "{templates[1]}"}}',
        "promotion:",
        "  order: [staging, production]",
        "models:",
    ]
    for name in names:
        lines += [
            f"  {name}:",
            "    environments:",
            "      staging: {champion: 1}",
            "      production:",
            "        champion: {promote_from: staging@champion}",
        ]
    return "\n".join(lines) + "\n"


def measure(proxies: list[Proxy], argv: list[str]) -> dict[str, object]:
    for p in proxies:
        p.reset()
    result = run_measured(argv, cwd=ROOT, env={"MODELPINS_ACTOR": "bench"})
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result['code']}):\n{result['err']}")
    result["reads"] = sum(len(p.reads()) for p in proxies)
    result["writes"] = sum(len(p.writes()) for p in proxies)
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=100)
    n = ap.parse_args().models
    work = ROOT / ".bench" / "promote_envs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"machine: {machine()}", flush=True)
    one = DevServer(work / "one").start(timeout=600)
    staging = DevServer(work / "staging").start(timeout=600)
    production = DevServer(work / "production").start(timeout=600)
    proxies = {name: Proxy(s.url).start() for name, s in (("one", one), ("staging", staging), ("prod", production))}
    rows = []
    try:
        names = [f"m{i:04d}" for i in range(n)]
        rest = Rest(one.url)
        rest.seed([f"staging.{m}" for m in names], versions=1, aliases={"champion": 1})
        rest.seed([f"naive-staging.{m}" for m in names], versions=1, aliases={"champion": 1})
        Rest(staging.url).seed(names, versions=1, aliases={"champion": 1})
        url = proxies["one"].url
        pins = work / "one.yaml"
        pins.write_text(pins_text(names, url, url, ("staging.{model}", "prod.{model}")))
        apply = [PY, "-m", "modelpins", "--pins", str(pins), "apply", "--yes"]
        rows.append(("one server", "modelpins apply", measure([proxies["one"]], apply)))
        rows.append(("one server", "modelpins apply again", measure([proxies["one"]], apply)))
        naive_names = ",".join(names)
        script = work / "naive.py"
        script.write_text(
            NAIVE.replace("staging.{name}", "naive-staging.{name}").replace("prod.{name}", "naive-prod.{name}")
        )
        naive = [PY, str(script), url, naive_names]
        rows.append(("one server", "naive copy_model_version loop", measure([proxies["one"]], naive)))
        rows.append(("one server", "naive loop again (copies twice)", measure([proxies["one"]], naive)))
        pins2 = work / "two.yaml"
        pins2.write_text(pins_text(names, proxies["staging"].url, proxies["prod"].url, ("{model}", "{model}")))
        two = [PY, "-m", "modelpins", "--pins", str(pins2), "apply", "--yes"]
        both = [proxies["staging"], proxies["prod"]]
        rows.append(("two servers", "modelpins apply", measure(both, two)))
        rows.append(("two servers", "modelpins apply again", measure(both, two)))
    finally:
        for p in proxies.values():
            p.stop()
        for s in (one, staging, production):
            s.stop()
    print(f"\n{n} models, staging -> production\n")
    print("| registries | what | wall s | reads | writes | requests per model |")
    print("|---|---|---:|---:|---:|---:|")
    for where, what, r in rows:
        per = (int(r["reads"]) + int(r["writes"])) / n  # type: ignore[call-overload]
        print(f"| {where} | {what} | {r['wall']:.2f} | {r['reads']} | {r['writes']} | {per:.2f} |")
    mp, nv = rows[0][2], rows[2][2]
    ratio = (int(nv["reads"]) + int(nv["writes"])) / (int(mp["reads"]) + int(mp["writes"]))  # type: ignore[call-overload]
    print(f"\nnaive / modelpins, first promotion on one server: {ratio:.2f}x requests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
