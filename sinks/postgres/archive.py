"""Archives of detached partitions: one gzip'd CSV file (Postgres's COPY format) and a JSON manifest each.

COPY writes every column in Postgres's own text form (JSONB, arrays, timestamps with their offset, xid8),
and COPY FROM reads back exactly what it wrote, so a round trip through an archive changes no value; no
library has to map Postgres types (pyarrow would, for Parquet, and is not a dependency). The manifest
names the table, partition, bounds, columns with their types, the row count and the file's SHA-256,
so an archive can be checked and restored without the database that wrote it
(docs/decisions/0233-archives-are-copy-csv-with-a-manifest.md).

``export_table`` writes the file and its manifest, each to a temporary name renamed once complete
and flushed: a manifest exists only for a whole archive. ``restore`` reloads one into a table of its own
(``restored_<archive>``, dots made underscores), never into the live table, so retention does not drop it again and the
API does not show it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from sinks.postgres.engine import raw_connection

FORMAT = "postgres-copy-csv-header+gzip"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    table: str  # the partitioned parent
    partition: str
    lower: str | None  # ISO instant; None: MINVALUE
    upper: str | None  # ISO instant; None: MAXVALUE
    columns: list[list[str]]  # [name, type] in the file's order
    rows: int
    key: str  # the partition key column
    key_min: str | None  # its smallest and largest value in the file (ISO), None when empty
    key_max: str | None
    file: str  # name, beside the manifest
    sha256: str
    bytes: int
    format: str
    exported_at: str
    # whose rows the file holds: None, every organization's (a whole partition); else only these
    # organizations' (rows retention deleted from a partition the others keep, or re-attached)
    organizations: list[str] | None = None

    @staticmethod
    def read(path: Path) -> Manifest:
        return Manifest(**json.loads(path.read_text()))


def columns_of(conn: Connection, relation: str) -> list[list[str]]:
    """[name, type] of ``relation``'s columns in order (what COPY writes)."""
    rows = conn.execute(
        text(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(:r) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"r": relation},
    ).all()
    return [[name, kind] for name, kind in rows]


def _write_atomically(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        write(out)
        out.flush()
        os.fsync(out.fileno())
    partial.rename(path)


def export_table(
    engine: Engine,
    relation: str,
    directory: Path,
    *,
    table: str,
    key: str,
    lower: datetime | None,
    upper: datetime | None,
) -> Path:
    """Writes ``relation`` (a detached partition of ``table``) to ``directory``; returns the manifest's path."""
    with engine.begin() as conn:
        return export_rows(
            conn, relation, directory, partition=relation, table=table, key=key, lower=lower, upper=upper
        )


def export_rows(
    conn: Connection,
    relation: str,
    directory: Path,
    *,
    partition: str,
    table: str,
    key: str,
    lower: datetime | None,
    upper: datetime | None,
    organizations: list[str] | None = None,
) -> Path:
    """Writes every row of ``relation`` as an archive of ``partition`` of ``table``, in ``conn``'s transaction
    (so rows deleted into a temporary table are archived before the delete commits); returns the
    manifest's path. An archive is never overwritten: a second one of the same partition (a month
    archived again after some organizations' rows were kept, or a crashed run's rerun) gets the next
    free name, ``<partition>.2``, ``.3``, ..."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = _free_stem(directory, partition if organizations is None else f"{partition}.organizations")
    data = directory / f"{stem}.csv.gz"
    digest = hashlib.sha256()
    columns = columns_of(conn, relation)
    names = ", ".join(f'"{name}"' for name, _ in columns)
    cursor = raw_connection(conn).cursor()

    def write(out) -> None:
        with gzip.GzipFile(fileobj=_Hashing(out, digest), mode="wb", mtime=0) as zipped:
            with cursor.copy(f"COPY {relation} ({names}) TO STDOUT (FORMAT csv, HEADER true)") as copy:
                for chunk in copy:
                    zipped.write(chunk)

    _write_atomically(data, write)
    size = data.stat().st_size
    rows, key_min, key_max = conn.execute(text(f"SELECT count(*), min({key}), max({key}) FROM {relation}")).one()
    manifest = Manifest(
        table=table,
        partition=partition,
        lower=lower.isoformat() if lower else None,
        upper=upper.isoformat() if upper else None,
        columns=columns,
        rows=rows,
        key=key,
        key_min=key_min.isoformat() if key_min else None,
        key_max=key_max.isoformat() if key_max else None,
        file=data.name,
        sha256=digest.hexdigest(),
        bytes=size,
        format=FORMAT,
        exported_at=datetime.now(timezone.utc).isoformat(),
        organizations=organizations,
    )
    path = directory / f"{stem}.manifest.json"
    _write_atomically(path, lambda out: out.write(json.dumps(asdict(manifest), indent=2).encode()))
    return path


def _free_stem(directory: Path, base: str) -> str:
    """``base``, or ``base.N`` with the smallest N from 2 that names no archive in ``directory``."""
    stem, n = base, 1
    while (directory / f"{stem}.manifest.json").exists() or (directory / f"{stem}.csv.gz").exists():
        n += 1
        stem = f"{base}.{n}"
    return stem


class _Hashing:
    """A binary file that hashes what is written through it."""

    def __init__(self, out, digest) -> None:
        self._out, self._digest = out, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


class ArchiveDamaged(Exception):
    """The archive's file is not what its manifest describes."""


def verify(manifest_path: Path) -> Manifest:
    manifest = Manifest.read(manifest_path)
    if manifest.format != FORMAT:
        raise ArchiveDamaged(f"{manifest_path.name}: unknown format {manifest.format!r}")
    digest = hashlib.sha256()
    with open(manifest_path.parent / manifest.file, "rb") as data:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != manifest.sha256:
        raise ArchiveDamaged(f"{manifest.file}: SHA-256 differs from the manifest's")
    return manifest


def restore(engine: Engine, manifest_path: Path, *, into: str | None = None) -> tuple[str, int]:
    """Reloads an archive into a new table (``restored_<archive name>`` unless ``into``), shaped like the
    live table's columns as the manifest lists them; returns (table, rows). Refuses a damaged archive
    and an existing table."""
    manifest = verify(manifest_path)
    target = into or "restored_" + manifest.file.removesuffix(".csv.gz").replace(".", "_")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in manifest.columns)
    names = ", ".join(f'"{name}"' for name, _ in manifest.columns)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {target} ({columns})"))
        cursor = raw_connection(conn).cursor()
        with gzip.open(manifest_path.parent / manifest.file, "rb") as data:
            with cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while chunk := data.read(_CHUNK):
                    copy.write(chunk)
        rows = conn.execute(text(f"SELECT count(*) FROM {target}")).scalar_one()
        if rows != manifest.rows:  # raised inside the transaction: nothing is left behind
            raise ArchiveDamaged(f"{manifest.file}: {rows} rows restored, the manifest says {manifest.rows}")
    return target, rows
