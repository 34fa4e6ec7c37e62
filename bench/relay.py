"""A loopback TCP relay that adds a fixed one-way delay, to stand in for network latency.

This kernel has no ``netem``, so ``bench/run --rtt MS`` puts this relay between every client
and the API server: each chunk read from one side is written to the other ``MS / 2``
milliseconds after it arrived, in both directions, so a request and its answer cross it in one
round-trip time. Bytes are forwarded unchanged (TLS stays end to end; the serving certificate's
SANs name 127.0.0.1, whatever the port).

Latency, not bandwidth: a chunk is never held back by the one before it beyond its own due time
(reads go on while earlier chunks wait), so a stream of chunks keeps its throughput and only
shifts by the delay, in order. It runs in its own process (:class:`RelayProcess`) with one
asyncio loop, so it takes no GIL from the client under test; ``bench/run`` measures it alone
(the same workload direct and through the relay at delay 0) to show it adds no bottleneck of
its own.

``python -m bench.relay --upstream HOST:PORT --rtt-ms MS`` prints the port it listens on, then
relays until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType

from bench.pinning import pin_process

CHUNK = 256 * 1024
_EOF = b""


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay_s`` after it was read; then EOF."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((loop.time() + delay_s, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time() + delay_s, _EOF))

    reading = asyncio.create_task(read())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        return
    finally:
        reading.cancel()


class DelayRelay:
    """The relay inside one event loop; ``port`` is known after :meth:`start`."""

    def __init__(self, upstream_host: str, upstream_port: int, rtt_ms: float) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = max(0.0, rtt_ms) / 2000.0  # one way
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop the connections still open."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        open_now = list(self._connections)
        for task in open_now:
            task.cancel()
        await asyncio.gather(*open_now, return_exceptions=True)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _pump(client_reader, server_writer, self.delay_s),
                _pump(server_reader, client_writer, self.delay_s),
            )
        except asyncio.CancelledError:
            pass  # the relay is closing: end this connection quietly (the task is its own)
        finally:
            client_writer.close()
            server_writer.close()


async def _main(upstream: str, rtt_ms: float, port: int) -> None:
    host, _, port_text = upstream.rpartition(":")
    relay = DelayRelay(host or "127.0.0.1", int(port_text), rtt_ms)
    await relay.start(port=port)
    print(relay.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await relay.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n")[0])
    p.add_argument("--upstream", required=True, metavar="HOST:PORT")
    p.add_argument("--rtt-ms", type=float, default=0.0, metavar="MS", help="round trip added")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    args = p.parse_args(argv)
    asyncio.run(_main(args.upstream, args.rtt_ms, args.port))
    return 0


class RelayProcess:
    """``python -m bench.relay`` as a child process; a context manager that always stops it."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        rtt_ms: float,
        *,
        cpus: frozenset[int] | None = None,
    ) -> None:
        """``cpus``: pin the relay there (``--pin`` puts it on the server's side)."""
        self.rtt_ms = rtt_ms
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.relay",
                "--upstream",
                f"{upstream_host}:{upstream_port}",
                "--rtt-ms",
                str(rtt_ms),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"the relay did not start (said {line!r})")
        self.port = int(line)
        if cpus is not None:
            pin_process(self._proc.pid, cpus)

    def __enter__(self) -> RelayProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
