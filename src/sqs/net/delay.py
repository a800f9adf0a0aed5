"""A TCP relay that adds a fixed one-way delay in each direction: propagation where ``netem`` is missing.

Every chunk read on one side is written to the other ``one_way_s`` after it arrived, in order, so a
relay between an edge and a cloud adds ``2 * one_way_s`` to every round trip without changing the
bytes or their rate (the rate is the link's: ``scripts/netlink.sh`` shapes it with ``tbf``)::

    python -m sqs.net.delay --listen 10.99.0.1:7434 --to 127.0.0.1:7433 --one-way-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way_s: float) -> None:
    queue: asyncio.Queue = asyncio.Queue()

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            queue.put_nowait((time.monotonic() + one_way_s, chunk))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0.0, None))
    try:
        await sender
        await asyncio.sleep(max(one_way_s, 0.0))
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def relay(listen: tuple[str, int], to: tuple[str, int], one_way_s: float, announce=None) -> None:
    """Serve until cancelled; each connection is relayed to ``to`` with ``one_way_s`` added both ways."""
    if not one_way_s >= 0:
        raise ValueError(f"one-way delay must be >= 0 s, got {one_way_s}")

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*to)
        except OSError:
            cw.close()
            return
        await asyncio.gather(_pump(cr, uw, one_way_s), _pump(ur, cw, one_way_s))

    server = await asyncio.start_server(handle, *listen)
    if announce is not None:
        announce(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    from sqs.net.client import parse_address

    ap = argparse.ArgumentParser(prog="python -m sqs.net.delay", description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT to accept on (port 0: any free one)")
    ap.add_argument("--to", required=True, help="HOST:PORT to relay to")
    ap.add_argument("--one-way-ms", type=float, required=True, help="delay added in each direction (ms)")
    args = ap.parse_args(argv)
    listen, to = parse_address(args.listen), parse_address(args.to)
    announce = lambda port: print(json.dumps({"listening": f"{listen[0]}:{port}"}), flush=True)  # noqa: E731
    try:
        asyncio.run(relay(listen, to, args.one_way_ms / 1000.0, announce))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
