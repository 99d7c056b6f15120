"""Gate: accuracy of a logistic-regression model version on a golden set shipped with the repo.

A `command` gate (see the README's gate contract): reads the candidate as JSON on stdin,
downloads the version's artefacts from MLflow (`models:/<name>/<version>`), finds
`logreg.json` ({"features", "mean", "std", "coef", "intercept", "threshold"}), predicts
every row of the golden CSV and prints {"passed", "value", "threshold", "detail"}.

    run: [python, scripts/gates/eval_suite.py, --golden, scripts/gates/golden/credit_risk.csv, --min, "0.85"]

Exit 0 with a verdict; any other problem (no artefact, bad CSV) exits non-zero, which
fails the gate closed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
from pathlib import Path


def predict(model: dict, row: dict[str, str]) -> int:
    z = model["intercept"]
    for name, mean, std, coef in zip(model["features"], model["mean"], model["std"], model["coef"], strict=True):
        z += coef * (float(row[name]) - mean) / std
    return int(1 / (1 + math.exp(-z)) >= model.get("threshold", 0.5))


def load_model(request: dict, workdir: Path) -> dict:
    from mlflow.artifacts import download_artifacts

    uri = f"models:/{request['model']}/{request['version']}"
    local = Path(download_artifacts(artifact_uri=uri, dst_path=str(workdir), tracking_uri=request["tracking_uri"]))
    found = sorted(local.rglob("logreg.json")) if local.is_dir() else [local]
    if not found:
        raise SystemExit(f"{uri} has no logreg.json among its artefacts")
    return json.loads(found[0].read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", required=True, type=Path, help="CSV with the model's features and the label")
    parser.add_argument("--label", default="default", help="label column (0/1)")
    parser.add_argument("--min", type=float, default=0.85, help="lowest accuracy that passes")
    args = parser.parse_args(argv)
    request = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(request, Path(tmp))
    with args.golden.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise SystemExit(f"{args.golden} has no rows")
    correct = sum(predict(model, row) == int(row[args.label]) for row in rows)
    accuracy = correct / len(rows)
    print(
        json.dumps(
            {
                "passed": accuracy >= args.min,
                "value": round(accuracy, 4),
                "threshold": args.min,
                "detail": f"{correct} of {len(rows)} golden rows correct ({args.golden.name})",
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
