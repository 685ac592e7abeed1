"""The FCM transport's keep-alive pool after the server went away and came back on the same port."""

from __future__ import annotations

import asyncio

import httpx

from sinks.fcm.transport import Http1Pool

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def serve(port: int = 0) -> asyncio.base_events.Server:
    open_writers: list[asyncio.StreamWriter] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                        b":"
                    )[1]
                )
                await reader.readexactly(length)
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port, reuse_address=True)
    server.open_writers = open_writers
    return server


async def restart_scenario() -> list[str]:
    server = await serve()
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(f"http://127.0.0.1:{port}", size=8, timeout_s=2)
    await asyncio.gather(*(pool.request("POST", "/", {}, b"{}") for _ in range(8)))  # 8 idle connections
    server.close()
    for writer in server.open_writers:  # the server process dies: every connection with it
        writer.close()
    await server.wait_closed()
    server = await serve(port)
    outcomes = []
    for _ in range(3):  # one request at a time, as the push sender's probes come
        try:
            await pool.request("POST", "/", {}, b"{}")
            outcomes.append("ok")
        except httpx.TransportError:
            outcomes.append("failed")
    await pool.aclose()
    server.close()
    return outcomes


def test_after_one_dead_connection_the_idle_ones_are_dropped_and_the_next_request_connects_anew():
    outcomes = asyncio.run(restart_scenario())

    assert outcomes[1:] == ["ok", "ok"]  # the first may meet a dead connection; never more than one
