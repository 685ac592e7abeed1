"""A fatal Kafka client error stops the process with ``EXIT_FATAL`` and one log line, whether the
consumer reports it on a message or only through its error callback (fakes; no services)."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError

from streams.checkpoint import Checkpoint
from streams.client_errors import ClientErrors
from streams.runtime import EXIT_FATAL
from streams.testing import FakeConsumer, FakeMessage, FakeProducer, ListSink
from tests.unit.streams.test_runtime import DLQ, TOPIC, msgs, runtime_of

FENCED = KafkaError(KafkaError.FENCED_INSTANCE_ID, "Fatal consumer error: fenced by a newer instance", fatal=True)


class FencedAfterFirstBatch(FakeConsumer):
    """Reports the fatal error through the error callback while serving the second consume, as librdkafka
    does for a static member fenced by another with its ``group.instance.id``: no message carries it."""

    errors: ClientErrors | None = None

    def consume(self, num_messages: int = 1, timeout: float = -1):
        if not self.batches and self.errors is not None:
            self.errors.error_cb(FENCED)
        return super().consume(num_messages, timeout)  # out of batches: stops the loop after this turn


def runtime_over(consumer, errors: ClientErrors | None = None, *, pipelined: bool = False):
    sink = ListSink()
    checkpoint = Checkpoint(consumer=consumer, producer=FakeProducer(), sink=sink, dlq_topic_of=lambda t: DLQ)
    runtime = runtime_of(consumer, checkpoint, client_errors=errors, pipelined=pipelined)
    consumer.on_empty = runtime.stop
    return runtime, sink


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_a_fatal_error_through_the_consumers_error_callback_then_the_process_exits_fatal_with_one_line(
    pipelined, caplog
):
    errors = ClientErrors("consumer", escalated=True)
    consumer = FencedAfterFirstBatch([msgs(0, [1, 2])])
    consumer.errors = errors
    runtime, sink = runtime_over(consumer, errors, pipelined=pipelined)
    caplog.set_level(logging.INFO)

    with pytest.raises(SystemExit) as stopped:
        runtime.run()

    assert stopped.value.code == EXIT_FATAL and consumer.closed
    assert len(sink.batches) == 1  # the batch before it was finished
    critical = [r.getMessage() for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert len(critical) == 1, critical
    assert "Kafka consumer failed fatally: FENCED_INSTANCE_ID" in critical[0] and f"exit {EXIT_FATAL}" in critical[0]


def test_given_a_fatal_error_on_a_consumed_message_then_the_process_exits_fatal_and_commits_nothing():
    fatal = FakeMessage(TOPIC, 0, -1, None, _error=FENCED)
    consumer = FakeConsumer([msgs(0, [1]) + [fatal]])
    runtime, sink = runtime_over(consumer)

    with pytest.raises(SystemExit) as stopped:
        runtime.run()

    assert stopped.value.code == EXIT_FATAL and consumer.closed
    assert consumer.committed == {} and sink.batches == []


def test_given_no_owner_then_a_fatal_error_is_logged_by_the_client_errors_themselves(caplog):
    errors = ClientErrors("producer")

    errors.error_cb(FENCED)

    assert errors.fatal.startswith("FENCED_INSTANCE_ID")
    assert [r.levelno for r in caplog.records] == [logging.CRITICAL]


def test_given_the_generic_fatal_code_on_a_message_then_it_is_fatal_though_not_flagged_so():
    """What librdkafka hands the poll of a fenced static member (seen on the broker): code _FATAL, fatal() False."""
    generic = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced")
    assert not generic.fatal()
    consumer = FakeConsumer([msgs(0, [1]) + [FakeMessage(TOPIC, 0, -1, None, _error=generic)]])
    runtime, sink = runtime_over(consumer)

    with pytest.raises(SystemExit) as stopped:
        runtime.run()

    assert stopped.value.code == EXIT_FATAL and consumer.committed == {}


def test_librdkafkas_fatal_log_line_is_a_fatal_report_said_once(caplog):
    errors = ClientErrors("producer")

    errors.log(logging.CRITICAL, "%s [%s] %s", "FATAL", "rdkafka#producer-1", "Fatal error: fenced")
    errors.error_cb(FENCED)  # the same error, called back

    assert errors.fatal == "_FATAL: Fatal error: fenced"
    assert [r.levelno for r in caplog.records] == [logging.CRITICAL]


def test_every_client_config_herald_builds_routes_errors_through_client_errors():
    from streams.clients import consumer_config, producer_config
    from streams.settings import KafkaSettings

    settings = KafkaSettings()
    configs = [
        consumer_config(settings, "g"),
        producer_config(settings),
        producer_config(settings, transactional_id="t"),
    ]

    for config in configs:
        assert isinstance(config["error_cb"].__self__, ClientErrors) and config["logger"] is config["error_cb"].__self__
