"""Which config changes ``herald topics sync`` refuses without --allow-shorter-retention."""

from __future__ import annotations

import pytest

from streams.topic_configs import ConfigChange


@pytest.mark.parametrize(
    ("key", "current", "wanted", "sooner"),
    [
        ("retention.ms", "604800000", "34560000000", False),  # 7 days -> 400 days: keeps more
        ("retention.ms", "34560000000", "604800000", True),
        ("retention.ms", "-1", "604800000", True),  # unlimited -> a week
        ("retention.ms", "604800000", "-1", False),
        ("retention.bytes", "-1", "10737418240", True),
        ("retention.bytes", "10737418240", "-1", False),
        ("delete.retention.ms", "604800000", "86400000", True),  # tombstones go sooner
        ("cleanup.policy", "delete", "compact", True),
        ("cleanup.policy", None, "compact", False),
        ("segment.ms", "604800000", "86400000", False),  # rolling sooner deletes nothing by itself
        ("min.cleanable.dirty.ratio", "0.5", "0.1", False),
    ],
)
def test_a_change_that_lets_the_broker_delete_records_sooner_is_told_apart(key, current, wanted, sooner):
    assert ConfigChange(key, current, wanted).deletes_sooner is sooner
