"""Client configs from settings (streams.clients): what reaches librdkafka."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.clients import producer_config
from streams.settings import KafkaSettings, ProducerSettings


def test_given_no_setting_then_producers_do_not_compress():
    assert producer_config(KafkaSettings())["compression.type"] == "none"


def test_given_a_compression_setting_then_every_producer_uses_it(monkeypatch):
    monkeypatch.setenv("HERALD_KAFKA_COMPRESSION", "zstd")

    assert producer_config(ProducerSettings())["compression.type"] == "zstd"
    assert producer_config(KafkaSettings(), transactional_id="t-0")["compression.type"] == "zstd"


def test_given_an_unknown_codec_then_settings_refuse_it():
    with pytest.raises(ValidationError, match="kafka_compression"):
        KafkaSettings(kafka_compression="brotli")


def test_fetch_and_session_come_from_the_runtime_settings_not_from_defaults_of_the_client_config():
    from streams.app import fetching, membership
    from streams.clients import consumer_config
    from streams.settings import ProcessorSettings

    bare = consumer_config(KafkaSettings(), "g")
    assert not {"fetch.min.bytes", "fetch.wait.max.ms", "session.timeout.ms"} & set(bare)

    settings = ProcessorSettings(fetch_min_bytes=4096, fetch_wait_max_ms=7, session_timeout_ms=12_000)
    config = consumer_config(settings, "g", **membership(settings), **fetching(settings))
    assert (config["fetch.min.bytes"], config["fetch.wait.max.ms"], config["session.timeout.ms"]) == (4096, 7, 12_000)
