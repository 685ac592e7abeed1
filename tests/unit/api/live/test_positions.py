"""Event ids and resuming: the pure part of the live streams' cursor."""

from __future__ import annotations

import pytest

from api.live.positions import Position, Verdict, is_new, judge


def test_an_id_round_trips_and_orders_by_transaction_then_row():
    assert Position.decode(Position(812_345, 17).encode()) == Position(812_345, 17)
    assert Position(5, 99) < Position(6, 1) < Position(6, 2)
    assert Position(6) < Position(6, 1)  # "every change below 6" sorts before transaction 6's first row


@pytest.mark.parametrize("text", [None, "", "12", "12-", "-3", "a-1", "1-2-3", "1 - 2", "9" * 21 + "-1", "1-2\n3"])
def test_a_malformed_id_decodes_to_none(text):
    assert Position.decode(text) is None


def test_judge_resumes_within_the_horizon_and_the_watermark():
    assert judge("100-3", horizon=90, watermark=120) == (Verdict.RESUME, Position(100, 3))
    assert judge("120-0", horizon=90, watermark=120) == (Verdict.RESUME, Position(120))
    assert judge("90-1", horizon=90, watermark=120) == (Verdict.RESUME, Position(90, 1))


def test_judge_refuses_an_id_older_than_the_horizon_or_one_the_database_has_not_reached():
    assert judge("89-7", horizon=90, watermark=120) == (Verdict.EXPIRED, None)
    assert judge("120-1", horizon=90, watermark=120) == (Verdict.UNKNOWN, None)  # transaction 120 is unfinished
    assert judge("500-1", horizon=90, watermark=120) == (Verdict.UNKNOWN, None)
    assert judge("garbage", horizon=90, watermark=120) == (Verdict.UNKNOWN, None)


def test_windows_that_overlap_a_replay_hand_each_change_once():
    """A reconnect replays (seen, hi); the next windows may start below what the client has seen (a
    replica behind the one it came from): ``is_new`` keeps only what follows."""
    seen = Position(100, 4)
    window = [Position(99, 8), Position(100, 4), Position(100, 5), Position(101, 1)]
    handed = []
    for position in window:
        if is_new(position, seen):
            handed.append(position)
            seen = position
    assert handed == [Position(100, 5), Position(101, 1)]
