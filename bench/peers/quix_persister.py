"""The persist job written with Quix Streams: the peer of Herald's persister in ``bench/run_all.py``.

Runs in its own virtual environment (bench/.venv-quix: quixstreams, psycopg2-binary, fastavro; Herald
is not installed there). It consumes the Avro activity topic, decodes the single-object encoding
itself (``C3 01`` + 8-byte CRC-64-AVRO fingerprint, then fastavro's schemaless reader with
schemas/activity_event.v1.avsc), maps each event to an activity_events row and writes it with Quix's
own ``PostgreSQLSink`` (at-least-once, ``on_conflict_do_nothing=True``: an idempotent
``INSERT … VALUES … ON CONFLICT DO NOTHING`` through psycopg2's ``execute_values``).

What it does differently from Herald's persister (a fair reading of the figures needs these):
* no validation of the event (Herald's ``ActivityEvent.from_avro`` validates and builds a dataclass,
  and dead-letters what fails); the peer only decodes and maps;
* an unknown fingerprint raises (Quix stops), where Herald dead-letters the record;
* ``schema_auto_update=False`` and ``include_metadata=False``: the table already exists (Herald's
  migration), so the sink neither issues ``ALTER TABLE … ADD COLUMN IF NOT EXISTS`` per column per
  batch nor adds ``__key`` / ``timestamp`` columns; with the defaults it does both;
* a one-method fix of the sink (``_PatchedPostgreSQLSink``): quixstreams 3.28 drops None values from
  each row and then takes the column list from the *first* row of the batch, so a batch whose first
  event has no patient_id would silently lose every other row's patient_id. The fix fills missing
  columns with NULL so the rows are complete; the SQL and the driver path are Quix's own.

Usage (normally started by bench/run_all.py):
    bench/.venv-quix/bin/python bench/peers/quix_persister.py --bootstrap 127.0.0.1:9092 \\
        --topic bench.activity-events.v1 --group quix-persister --dsn postgresql://herald@127.0.0.1:5432/db
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from quixstreams import Application
from quixstreams.models import Deserializer
from quixstreams.sinks.community.postgresql import PostgreSQLSink

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "activity_event.v1.avsc"
MAGIC = b"\xc3\x01"

# The catalogue's default priority and visibility per type, as Herald's persister stores them (the
# effective values); a copy of processors/catalogue.py's table so this venv needs nothing from Herald.
# bench/run_all.py checks both persist jobs wrote the same rows.
DEFAULTS = {
    "PATIENT_REGISTERED": ("LOW", "all_members"),
    "PATIENT_UPDATED": ("LOW", "all_members"),
    "APPOINTMENT_SCHEDULED": ("NORMAL", "all_members"),
    "APPOINTMENT_CANCELLED": ("NORMAL", "all_members"),
    "APPOINTMENT_RESCHEDULED": ("NORMAL", "all_members"),
    "APPOINTMENT_CHECKED_IN": ("NORMAL", "all_members"),
    "LAB_RESULT_RECEIVED": ("NORMAL", "clinical_staff"),
    "LAB_RESULT_CRITICAL": ("URGENT", "clinical_staff"),
    "MEDICATION_PRESCRIBED": ("NORMAL", "clinical_staff"),
    "ENCOUNTER_SIGNED": ("NORMAL", "clinical_staff"),
    "DOCUMENT_UPLOADED": ("LOW", "clinical_staff"),
    "TASK_ASSIGNED": ("NORMAL", "all_members"),
    "REFERRAL_RECEIVED": ("NORMAL", "clinical_staff"),
    "ANNOUNCEMENT": ("NORMAL", "all_members"),
    "ANNOUNCEMENT_URGENT": ("URGENT", "all_members"),
    "AUDIT_ACCESS": ("LOW", "actor_and_supervisors"),
    "USER_ROLE_CHANGED": ("NORMAL", "actor_and_supervisors"),
}
UNKNOWN = ("NORMAL", "clinical_staff")


class SingleObjectAvro(Deserializer):
    """Avro single-object encoding → dict, for the one schema version the topic carries."""

    def __init__(self, schema_file: Path = SCHEMA_FILE) -> None:
        super().__init__()
        self._schema = fastavro.parse_schema(json.loads(schema_file.read_text()), _write_hint=False)
        self._header = MAGIC + bytes.fromhex(fingerprint(to_parsing_canonical_form(self._schema), "CRC-64-AVRO"))

    def __call__(self, value: bytes, ctx) -> dict:
        if value[:10] != self._header:
            raise ValueError(f"not a single-object-encoded ActivityEvent v1 (header {value[:10].hex()})")
        return fastavro.schemaless_reader(io.BytesIO(value[10:]), self._schema, None)


def to_row(event: dict) -> dict:
    """The activity_events row of one decoded event (effective priority and visibility, like Herald)."""
    priority, visibility = DEFAULTS.get(event["event_type"], UNKNOWN)
    return {
        **event,
        "event_id": str(event["event_id"]),
        "priority": event["priority"] or priority,
        "visibility": event["visibility"] or visibility,
    }


class _PatchedPostgreSQLSink(PostgreSQLSink):
    """Quix's sink with complete rows: see the module doc (None-dropping + first-row column list)."""

    def _insert_rows(self, table_name, rows, pks=None):
        columns = list(dict.fromkeys(c for row in rows for c in row))
        super()._insert_rows(table_name, [{c: row.get(c) for c in columns} for row in rows], pks)


def build_app(args) -> Application:
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        commit_every=args.commit_every,
        processing_guarantee="at-least-once",
        loglevel="WARNING",
        use_changelog_topics=False,
    )
    dsn = urlsplit(args.dsn)
    sink = _PatchedPostgreSQLSink(
        host=dsn.hostname,
        port=dsn.port or 5432,
        dbname=dsn.path.lstrip("/"),
        user=unquote(dsn.username or ""),
        password=unquote(dsn.password or ""),
        table_name=args.table,
        schema_auto_update=False,
        include_metadata=False,
        on_conflict_do_nothing=True,
    )
    topic = app.topic(args.topic, key_deserializer="bytes", value_deserializer=SingleObjectAvro())
    app.dataframe(topic).apply(to_row).sink(sink)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--dsn", required=True, help="postgresql://user[:password]@host:port/dbname")
    parser.add_argument("--table", default="activity_events")
    parser.add_argument(
        "--commit-every",
        type=int,
        default=5000,
        help="checkpoint (flush the sink, commit offsets) every N records: Herald's batch size",
    )
    parser.add_argument("--commit-interval", type=float, default=5.0, help="Quix's default")
    build_app(parser.parse_args()).run()


if __name__ == "__main__":
    main()
