"""``python -m tests.soak``: the chaos soak's command line (see tests/soak/README.md)."""

from tests.soak.soak import main

raise SystemExit(main())
