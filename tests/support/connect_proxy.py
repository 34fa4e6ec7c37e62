"""The CONNECT proxy of tests/support/connectproxy.py as a program of its own.

``python tests/support/connect_proxy.py LOG [--refuse]`` listens on 127.0.0.1 (a free port,
printed on the first line of stdout), appends ``CONNECT host:port`` for every tunnel request to
LOG, and relays bytes both ways; with ``--refuse`` it answers every CONNECT with
``403 Forbidden``. It runs until killed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.connectproxy import ConnectProxy


def main() -> None:
    proxy = ConnectProxy(refuse="--refuse" in sys.argv[2:], log=Path(sys.argv[1]))
    print(proxy.url.rsplit(":", 1)[1], flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
