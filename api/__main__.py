"""``herald run api`` / ``python -m api``: the read API under uvicorn until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import uvicorn

from api.limits import limited_protocol
from api.main import create_app
from api.settings import ApiSettings, InsecureSettings
from streams.app import configure_logging

log = logging.getLogger("herald.api")


def main(settings: ApiSettings | None = None) -> None:
    """Refuses to start (exit code 2) with key material unsafe for ``HERALD_ENV``."""
    configure_logging()
    settings = settings or ApiSettings()
    try:
        settings.check_secure()
    except InsecureSettings as exc:
        log.error("refusing to start: %s", exc)
        sys.exit(2)
    if settings.env == "dev" and settings.api_jwt_secret is None:
        log.warning("HERALD_ENV=dev: accepting tokens signed with the public dev secret")
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; exit 0 like every Herald process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server: dict[str, Any] = dict(
        host=settings.api_host,
        port=settings.api_port,
        access_log=False,
        log_config=None,
        http=limited_protocol(settings.api_max_header_bytes, settings.api_max_headers),
        limit_concurrency=settings.api_limit_concurrency,
        backlog=4096,
    )
    if settings.api_workers > 1:
        uvicorn.run("api.main:app_from_env", factory=True, workers=settings.api_workers, **server)
    else:
        uvicorn.run(create_app(settings), **server)


if __name__ == "__main__":
    main()
