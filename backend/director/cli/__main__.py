"""``python -m director.cli`` (the ``director`` console script runs the same ``main``)."""

from director.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
