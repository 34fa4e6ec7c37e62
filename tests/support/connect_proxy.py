"""A small real HTTP CONNECT proxy on loopback, run as a program by the tests.

``python tests/support/connect_proxy.py LOG [--refuse]`` listens on 127.0.0.1 (a free port,
printed on the first line of stdout), appends ``CONNECT host:port`` for every tunnel request to
LOG, and relays bytes both ways. With ``--refuse`` it answers every CONNECT with
``403 Forbidden`` instead, as a corporate proxy does for a host it does not allow.
"""

from __future__ import annotations

import select
import socket
import sys
import threading


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    sockets = [client, upstream]
    while True:
        readable, _, _ = select.select(sockets, [], [], 60)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (upstream if source is client else client).sendall(data)


def _handle(client: socket.socket, log: str, refuse: bool) -> None:
    with client:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(4096)
            if not chunk:
                return
            request += chunk
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        with open(log, "a") as handle:
            handle.write(line.rsplit(" ", 1)[0] + "\n")
        method, target = line.split(" ")[:2]
        if method != "CONNECT" or refuse:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(client, upstream)


def main() -> None:
    log = sys.argv[1]
    refuse = "--refuse" in sys.argv[2:]
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=_handle, args=(client, log, refuse), daemon=True).start()


if __name__ == "__main__":
    main()
