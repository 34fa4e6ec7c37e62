"""``python -m pytest_incluster.cli``: the console script."""

import sys

from pytest_incluster.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
