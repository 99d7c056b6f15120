"""The naive way to make aliases match a file: one MlflowClient call per alias (the baseline in bench/).

`python bench/naive.py plan|apply TRACKING_URI PINS_FILE` reads each alias with
`get_model_version_by_alias` and, for apply, moves it with `set_registered_model_alias`.
It writes no audit record and does not delete aliases the file dropped.
"""

from __future__ import annotations

import sys

import yaml


def main(argv: list[str]) -> int:
    mode, uri, path = argv
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri)
    with open(path, encoding="utf-8") as fh:
        models = yaml.safe_load(fh)["models"]
    changes = 0
    for model, spec in models.items():
        for alias, version in spec["aliases"].items():
            try:
                current: int | None = int(client.get_model_version_by_alias(model, alias).version)
            except MlflowException:
                current = None
            if current != version:
                changes += 1
                if mode == "apply":
                    client.set_registered_model_alias(model, alias, str(version))
    print(f"{changes} changes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
