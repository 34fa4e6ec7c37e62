"""A TCP forwarder from an address inside the node's network namespace to the API server.

There is no kube-proxy: the ``kubernetes`` Service address (``10.0.0.1:443``) that the kubelet
gives every pod must reach kube-apiserver, which listens on ``127.0.0.1`` in the host's
namespace. This process listens inside the node's namespace (the socket is made after ``setns``
into it, then the thread switches back) and connects out from the host's namespace, so nothing in
the host namespace gets any address but loopback. The serving certificate already names
``10.0.0.1`` (see :mod:`pytest_incluster.local.pki`).

Run as ``python -m pytest_incluster.local.node.forwarder NETNS_PATH LISTEN_IP LISTEN_PORT
TARGET_PORT``; it prints ``ready`` once listening and serves until SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import threading

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def listen_in(netns: str, address: tuple[str, int]) -> socket.socket:
    """A listening socket that belongs to the network namespace at path ``netns``."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            server = socket.create_server(address, backlog=128)
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)
    return server


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def _serve_one(client: socket.socket, target_port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv: list[str]) -> int:
    netns, ip, port, target = argv[0], argv[1], int(argv[2]), int(argv[3])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = listen_in(netns, (ip, port))
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=_serve_one, args=(client, target), daemon=True).start()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
