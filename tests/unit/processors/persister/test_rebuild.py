"""The pure parts of ``herald rebuild feed``: what it prints of a reason, which tables it refuses, times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from processors.persister.rebuild import RebuildRefused, check_target, reason_kind, utc_millis


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("unknown framing (first bytes 6e6f)", "unknown framing"),
        ("corrupt Avro body: EOFError: Expected 8 bytes", "corrupt Avro body"),
        ("organization_id is required", "organization_id is required"),
        ("event_type 'Dr Jones saw Ann' must be UPPER_SNAKE_CASE", "event_type"),
        ("unknown visibility 'Ann Smith'", "unknown visibility"),
        ("title is 312 characters; at most 200", "title"),
        ("KeyError: 'title'", "KeyError"),
        ("'", "other"),
    ],
)
def test_a_reason_is_cut_before_its_first_value(reason, kind):
    assert reason_kind(reason) == kind


def test_the_live_table_is_refused_unless_asked_and_a_name_must_be_plain():
    check_target("activity_events_rebuild", into_live=False)
    check_target("activity_events", into_live=True)

    with pytest.raises(RebuildRefused, match="--into-live"):
        check_target("activity_events", into_live=False)
    with pytest.raises(RebuildRefused, match="lower-case"):
        check_target("x; DROP TABLE activity_events", into_live=False)


def test_a_naive_time_is_utc():
    aware = datetime(2026, 12, 1, 8, tzinfo=timezone(timedelta(hours=1)))

    assert utc_millis(datetime(2026, 12, 1, 7)) == utc_millis(aware) == 1_796_108_400_000
