"""What the tests of deploy/prometheus and deploy/grafana share: the files, the expressions in them,
and finding Prometheus's binaries (a failure under CI=true, a skip elsewhere)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
SCRAPE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "herald.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "herald.rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "herald.json"
# What Grafana puts in place of the dashboard's variables when "All" is selected.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$group": ".*", "$processor": ".*"}
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool\b)")


def binary(name: str) -> str:
    """Path of a Prometheus binary (installed by `make test` through deploy/prometheus/install.sh)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: run `sh deploy/prometheus/install.sh` (Debian package prometheus)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: a missing tool is a failure, not a skip)")
    pytest.skip(message)


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def dashboard_expressions() -> list[str]:
    """Every query of every panel, with Grafana's variables filled in as for "All"."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    for var, value in GRAFANA_VARIABLES.items():
        exprs = [e.replace(var, value) for e in exprs]
    return exprs


def with_bool(expr: str) -> str:
    """``expr`` with every comparison outside label matchers and strings turned into its ``bool`` form,
    so an alert's expression returns its series whether or not the alert condition holds."""
    out, depth, quoted, i = [], 0, False, 0
    while i < len(expr):
        c = expr[i]
        if c == '"' and (i == 0 or expr[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and c in "{}":
            depth += 1 if c == "{" else -1
        match = None if quoted or depth else _COMPARISON.match(expr, i)
        if match:
            out.append(f"{match.group(1)} bool")
            i = match.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


def metric_names(expr: str) -> set[str]:
    """The ``herald_*`` metric names an expression reads."""
    return set(re.findall(r"\bherald_[a-z0-9_]+", expr))
