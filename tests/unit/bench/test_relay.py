"""The benchmark's latency relay (bench/relay.py) forwards bytes intact, in order, and closes.

How much it delays is a benchmark matter (``bench/run`` checks a lower bound on every run); these
tests only check that what goes in comes out unchanged and that an end closing is passed on. The
upstream is a real echo server on loopback.
"""

from __future__ import annotations

import asyncio
import os
import socket

from bench.relay import DelayRelay, RelayProcess


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _through_relay(payload: bytes, rtt_ms: float) -> tuple[bytes, bytes]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    relay = DelayRelay("127.0.0.1", upstream.sockets[0].getsockname()[1], rtt_ms)
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)

        async def send() -> None:
            for start in range(0, len(payload), 7919):  # odd-sized writes, many chunks
                writer.write(payload[start : start + 7919])
                await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        echoed = await asyncio.wait_for(reader.read(), timeout=30)  # to EOF
        await sending
        after_eof = await reader.read(1)
        writer.close()
        return echoed, after_eof
    finally:
        await relay.close()
        upstream.close()


def test_bytes_come_back_intact_and_in_order() -> None:
    payload = os.urandom(3 * 1024 * 1024)
    echoed, _ = asyncio.run(_through_relay(payload, 0))
    assert echoed == payload


def test_bytes_come_back_intact_with_a_delay() -> None:
    payload = os.urandom(256 * 1024)
    echoed, _ = asyncio.run(_through_relay(payload, 4))
    assert echoed == payload


def test_a_closing_end_is_passed_on_both_ways() -> None:
    # The client half-closes; the echo server sees EOF, closes, and the client sees EOF.
    _, after_eof = asyncio.run(_through_relay(b"ping", 2))
    assert after_eof == b""


def test_the_relay_process_relays_and_stops() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with (
            RelayProcess("127.0.0.1", port, 0) as relay,
            socket.create_connection(("127.0.0.1", relay.port), timeout=10) as client,
        ):
            upstream, _ = listener.accept()
            with upstream:
                client.sendall(b"hello")
                assert upstream.recv(5) == b"hello"
                upstream.sendall(b"world")
                assert client.recv(5) == b"world"
                upstream.close()
                assert client.recv(1) == b""  # the server's close reached the client
        relay_port = relay.port
    try:
        socket.create_connection(("127.0.0.1", relay_port), timeout=2).close()
        still_listening = True
    except OSError:
        still_listening = False
    assert not still_listening
