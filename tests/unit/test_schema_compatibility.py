"""Every committed schema version reads every later one and vice versa (backward + forward).

The check encodes sample records (every optional field empty, and every field set) with one
version and decodes them with another; fastavro raises SchemaResolutionError on an incompatible
pair. A known-incompatible pair proves the check can fail.
"""

from __future__ import annotations

import io
import itertools
import json

import fastavro
import pytest

from streams.serde import SchemaStore

STORE = SchemaStore()


def sample(schema: dict, *, full: bool):
    """A datum for ``schema``: defaults only (full=False) or every field populated (full=True)."""
    t = schema
    if isinstance(t, list):
        chosen = [b for b in t if b != "null"][0] if full else t[0]
        return None if chosen == "null" else sample(chosen, full=full)
    if isinstance(t, str):
        return {
            "string": "x",
            "int": 1,
            "long": 1,
            "boolean": True,
            "double": 1.0,
            "float": 1.0,
            "bytes": b"x",
            "null": None,
        }[t]
    kind = t["type"]
    if kind == "record":
        return {f["name"]: sample(f["type"], full=full) for f in t["fields"]}
    if kind == "enum":
        return t["symbols"][-1 if full else 0]
    if kind == "array":
        return [sample(t["items"], full=full)] if full else []
    if kind == "map":
        return {"k": sample(t["values"], full=full)} if full else {}
    if t.get("logicalType") == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return sample(kind, full=full)


def readable(writer: dict, reader: dict) -> bool:
    for full in (False, True):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, fastavro.parse_schema(writer), sample(writer, full=full))
        buf.seek(0)
        try:
            fastavro.schemaless_reader(buf, fastavro.parse_schema(writer), fastavro.parse_schema(reader))
        except fastavro.read.SchemaResolutionError:
            return False
    return True


PAIRS = [
    (name, a, b) for name in STORE.names() for a, b in itertools.combinations_with_replacement(STORE.versions(name), 2)
]


@pytest.mark.parametrize(
    "name,older,newer", PAIRS, ids=[f"{n.rsplit('.', 1)[1]}-v{a.version}-v{b.version}" for n, a, b in PAIRS]
)
def test_versions_are_backward_and_forward_compatible(name, older, newer):
    assert readable(older.raw, newer.raw), f"{name} v{newer.version} cannot read v{older.version}"
    assert readable(newer.raw, older.raw), f"{name} v{older.version} cannot read v{newer.version}"


def test_every_family_has_a_v1_and_no_gaps():
    for name in STORE.names():
        assert [v.version for v in STORE.versions(name)] == list(range(1, len(STORE.versions(name)) + 1))


def test_the_check_catches_a_new_required_field_without_default():
    v1 = STORE.versions("emr.herald.activity.ActivityEvent")[0].raw
    broken = json.loads(json.dumps(v1))
    broken["fields"].append({"name": "ward", "type": "string"})
    assert not readable(v1, broken)
