"""Promotion across environments in tests: a model registered with runs in a real MLflow server, and the
pins file that promotes it from staging to production."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

ENV = {"MODELPINS_ACTOR": "ci-bot"}


def register(client: MlflowClient, name: str, accuracies: list[float]) -> list[str]:
    """`name` with one run per version (metric `accuracy`, a param, a tag), stored at an s3:// location:
    a store both servers can reach, as a real staging and production pair shares an object store."""
    client.create_registered_model(name)
    exp = client.get_experiment_by_name("envs") or None
    exp_id = exp.experiment_id if exp else client.create_experiment("envs")
    runs = []
    for n, accuracy in enumerate(accuracies, start=1):
        rid = client.create_run(exp_id).info.run_id
        client.log_metric(rid, "accuracy", accuracy)
        client.set_terminated(rid)
        client.create_model_version(
            name, f"s3://acme-models/{name}/{n}", run_id=rid, tags={"team": "risk"}, description=f"trained {n}"
        )
        runs.append(rid)
    return runs


def pins(
    path: Path,
    model: str,
    staging_uri: str,
    prod_uri: str,
    *,
    champion: int,
    templates: tuple[str, str] = ("{model}", "{model}"),
    soak: str = "",
    override: str = "",
    min_accuracy: float = 0.8,
    staging_alias: str = "champion",
) -> Path:
    promote = f"{{promote_from: staging@{staging_alias}" + (f', override: "{override}"' if override else "") + "}"
    order = f"promotion:\n  order: [staging, production]\n  soak: {{staging: {soak}}}\n" if soak else ""
    path.write_text(
        f"""version: 1
environments:
  staging:
    namespace: ml-staging
    registry: {{tracking_uri: "{staging_uri}", model: "{templates[0]}"}}
  production:
    namespace: ml-production
    registry: {{tracking_uri: "{prod_uri}", model: "{templates[1]}"}}
{order}models:
  {model}:
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: {min_accuracy}
    environments:
      staging:
        {staging_alias}: {champion}
      production:
        champion: {promote}
"""
    )
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def versions(client: MlflowClient, name: str) -> list:
    return sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
