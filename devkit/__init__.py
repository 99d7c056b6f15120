"""What develops modelpins but does not ship with it: the local MLflow server and its seeding (tests, bench,
the kind run), and `make demo`. Not installed: import it from a checkout (the repository root on sys.path)."""
