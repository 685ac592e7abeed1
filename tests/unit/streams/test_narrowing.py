"""narrow(): the items a write refuses, found in halves of halves, the rest written in order."""

from __future__ import annotations

import pytest

from streams.narrowing import narrow


class Refused(Exception):
    pass


def test_the_refused_items_are_returned_and_every_other_item_is_written_once_in_order():
    written: list[int] = []

    def write(part):
        if any(i in (3, 11) for i in part):
            raise Refused(f"refused in {list(part)}")
        written.extend(part)

    refused = narrow(list(range(16)), write, lambda exc: isinstance(exc, Refused))

    assert [item for item, _ in refused] == [3, 11]
    assert written == [i for i in range(16) if i not in (3, 11)]


def test_a_failure_it_does_not_isolate_propagates_at_once():
    def write(part):
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        narrow([1, 2, 3], write, lambda exc: isinstance(exc, Refused))


def test_a_list_that_writes_is_written_in_one_call():
    calls = []
    assert narrow([1, 2, 3], calls.append, lambda exc: True) == []
    assert calls == [[1, 2, 3]]
