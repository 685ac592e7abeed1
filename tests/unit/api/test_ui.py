"""api.ui: the page's Content-Security-Policy allows exactly its own inline script."""

from __future__ import annotations

import base64
import hashlib
import re

from api.ui import DIRECTORY, content_security_policy

PAGE = (DIRECTORY / "index.html").read_text()


def test_the_policy_names_the_sha256_of_each_inline_script():
    html = "<p>x</p><script>one()</script><script>\ntwo()\n</script>"
    policy = content_security_policy(html)
    for body in ("one()", "\ntwo()\n"):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_the_policy_allows_same_origin_calls_only_and_no_framing():
    directives = dict(d.strip().split(" ", 1) for d in content_security_policy(PAGE).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_page_has_one_script_and_no_inline_handlers_the_policy_would_block():
    assert len(re.findall(r"<script\b", PAGE)) == 1
    assert not re.search(r"\son[a-z]+\s*=", PAGE), "an inline event handler: the policy blocks it"
    assert "innerHTML" not in PAGE  # rows are built with textContent: titles are data, not markup
