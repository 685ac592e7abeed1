"""The bell page: one static HTML file (``api/static/index.html``: plain JS and CSS, no build step)
served at ``/ui/``.

It needs no token to load: the user pastes one and the page calls the ``/v1`` routes with it (checked
there as for any client); nothing under ``/ui`` carries data. The page holds a token, so it is served
with a Content-Security-Policy that allows exactly its own inline script (by hash), same-origin
requests, and no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import Scope

DIRECTORY = Path(__file__).resolve().parent / "static"
PATH = "/ui"


def content_security_policy(html: str) -> str:
    """Scripts: only the page's inline ones, each by its sha256; everything else from this origin."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class PageFiles(StaticFiles):
    """StaticFiles with the page's security headers on every answer."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)
        self.csp = content_security_policy((directory / "index.html").read_text())

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):  # OPTIONS: 204, anything else 405, both naming what it serves
            status = 204 if scope["method"] == "OPTIONS" else 405
            response = Response(status_code=status, headers={"Allow": "GET, HEAD, OPTIONS"})
        else:
            response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def mount(app: Starlette) -> None:
    """``/ui/`` answers index.html (``/ui`` redirects there); not in the OpenAPI document."""
    app.mount(PATH, PageFiles(DIRECTORY), name="ui")
