"""An archive is checked against its manifest before anything is restored from it."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict

import pytest

from sinks.postgres.archive import FORMAT, ArchiveDamaged, Manifest, verify


def write_archive(tmp_path, body: bytes, **overrides) -> tuple:
    data = tmp_path / "t_p202610.csv.gz"
    data.write_bytes(gzip.compress(body))
    manifest = Manifest(
        table="t",
        partition="t_p202610",
        lower="2026-10-01T00:00:00+00:00",
        upper="2026-11-01T00:00:00+00:00",
        columns=[["id", "uuid"]],
        rows=1,
        key="occurred_at",
        key_min=None,
        key_max=None,
        file=data.name,
        sha256=hashlib.sha256(data.read_bytes()).hexdigest(),
        bytes=data.stat().st_size,
        format=FORMAT,
        exported_at="2027-06-01T00:00:00+00:00",
    )
    path = tmp_path / "t_p202610.manifest.json"
    path.write_text(json.dumps(asdict(manifest) | overrides))
    return path, data


def test_an_intact_archive_verifies_and_reads_back_its_manifest(tmp_path):
    path, _ = write_archive(tmp_path, b"id\n00000000-0000-0000-0000-000000000001\n")
    assert verify(path).partition == "t_p202610"


def test_a_changed_byte_is_refused(tmp_path):
    path, data = write_archive(tmp_path, b"id\n1\n")
    data.write_bytes(data.read_bytes()[:-1] + b"\x01")
    with pytest.raises(ArchiveDamaged, match="SHA-256"):
        verify(path)


def test_an_unknown_format_is_refused(tmp_path):
    path, _ = write_archive(tmp_path, b"id\n1\n", format="parquet")
    with pytest.raises(ArchiveDamaged, match="format"):
        verify(path)
