"""``herald archive verify``: says whose rows an archive holds, reads manifests written before they
named organizations, and exits 1 on a damaged archive."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.data_lifecycle import archive
from tests.unit.sinks.postgres.test_archive import write_archive

runner = CliRunner()


def test_an_archive_of_some_organizations_rows_says_how_many_organizations(tmp_path):
    path, _ = write_archive(tmp_path, b"id\n1\n", organizations=["org-a", "org-b"])
    result = runner.invoke(archive, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 rows of 2 organization(s)" in result.output and "intact" in result.output


def test_a_manifest_without_organizations_is_a_whole_month(tmp_path):
    path, _ = write_archive(tmp_path, b"id\n1\n")
    manifest = json.loads(path.read_text())
    del manifest["organizations"]  # as written before archives of some organizations' rows existed
    path.write_text(json.dumps(manifest))
    result = runner.invoke(archive, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "t_p202610: 1 rows, occurred_at" in result.output


def test_a_damaged_archive_exits_1(tmp_path):
    path, data = write_archive(tmp_path, b"id\n1\n")
    data.write_bytes(data.read_bytes()[:-1] + b"\x01")
    result = runner.invoke(archive, ["verify", str(path)])
    assert result.exit_code == 1 and "SHA-256" in result.output
