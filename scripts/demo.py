"""Run the promotion flow on a local MLflow server seeded with demo models (`make demo`).

The demo is devkit/demo.py, which is not part of the installed package: it is imported from this checkout.
"""

import sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from devkit.demo import main as demo

    return demo()


if __name__ == "__main__":
    raise SystemExit(main())
