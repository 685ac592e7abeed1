"""Scratch topics: created under a prefix, and gone again once deleted (benchmarks and fixtures rely on it)."""

from __future__ import annotations

import uuid

from cli.processes import wait_until
from streams.admin import create_topics, delete_topics
from streams.clients import build_admin
from streams.settings import KafkaSettings
from streams.topics import topic_specs


def test_given_a_prefix_s_topics_when_deleted_then_the_broker_lists_none_of_them_and_a_second_delete_is_harmless(
    services,
):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(
        kafka_bootstrap=services.kafka_bootstrap, topic_prefix=f"{prefix}.", group_prefix=f"{prefix}-"
    )
    other = KafkaSettings(
        kafka_bootstrap=services.kafka_bootstrap, topic_prefix=f"{prefix}x.", group_prefix=f"{prefix}x-"
    )
    admin = build_admin(settings)
    listed = lambda: set(admin.list_topics(timeout=10).topics)  # noqa: E731
    specs = topic_specs(partitions=2)
    create_topics(admin, settings, specs)
    create_topics(admin, other, specs[:1])
    try:
        deleted = delete_topics(admin, settings, specs)

        assert sorted(deleted) == sorted(settings.topic(s.base) for s in specs)
        wait_until(
            lambda: not {n for n in listed() if n.startswith(settings.topic_prefix)},
            30,
            interval=0.1,
            what="the broker's metadata to drop the deleted topics",
        )
        assert other.topic(specs[0].base) in listed()  # another prefix's topic is untouched
        assert delete_topics(admin, settings, specs) == []  # already gone: nothing deleted, nothing raised
    finally:
        delete_topics(admin, other, specs[:1])
