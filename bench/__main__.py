"""``python -m bench``: what ``bench/run`` starts."""

import sys

from bench.cli import main

sys.exit(main())
