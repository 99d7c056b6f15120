"""Run the promotion flow on a local MLflow server seeded with demo models (`make demo`)."""

from modelpins.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
