"""``python -m pipeline.evaluate``: the evaluation commands; the code lives in :mod:`evaluation`."""
import sys

from evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
