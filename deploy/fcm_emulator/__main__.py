"""``python -m deploy.fcm_emulator [--host H] [--port P] [--tls-cert PEM --tls-key PEM]``: run the FCM
emulator until SIGTERM (over https:// with a certificate)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from deploy.fcm_emulator.server import serve, tls_context


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (faster accept/read/write paths), else the standard loop."""
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


async def _run(host: str, port: int, cert: str | None, key: str | None) -> None:
    server = await serve(host, port, ssl_context=tls_context(cert, key) if cert else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.info("FCM emulator listening on %s://%s:%d", "https" if cert else "http", host, port)
    async with server:
        await stop.wait()
    logging.info("FCM emulator stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="FCM HTTP v1 emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    parser.add_argument("--tls-cert", help="PEM certificate (chain): serve https:// instead of http://")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s fcm-emulator %(message)s")
    loop = _new_loop()
    try:
        loop.run_until_complete(_run(args.host, args.port, args.tls_cert, args.tls_key))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
