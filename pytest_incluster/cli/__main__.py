"""``python -m pytest_incluster.cli``: the console script."""

import sys

from pytest_incluster.cli.main import main

sys.exit(main())
