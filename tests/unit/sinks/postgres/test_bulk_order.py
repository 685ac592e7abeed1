"""Key order of bulk inserts (sinks.postgres.bulk.in_key_order): Postgres's order for uuids and strings."""

from __future__ import annotations

import random
import uuid

from sinks.postgres.bulk import in_key_order


def test_uuid_keys_sort_as_postgres_orders_uuids_whatever_the_other_columns():
    keys = [uuid.UUID(int=random.Random(7).getrandbits(128) ^ i) for i in range(500)]
    rows = [("x", k, i) for i, k in enumerate(keys)]
    ordered = in_key_order(rows, 1)
    assert [r[1].bytes for r in ordered] == sorted(k.bytes for k in keys)  # Postgres compares the 16 bytes
    assert sorted(ordered) == sorted(rows)  # the same rows, reordered


def test_string_keys_sort_as_they_are_and_an_empty_batch_is_fine():
    rows = [(s,) for s in ("b", "a", "c")]
    assert in_key_order(rows, 0) == [("a",), ("b",), ("c",)]
    assert in_key_order([], 0) == []
