"""Finding the items a write refuses: halves of halves, in order (the runtime's poison records, the
reconciler's events).

``narrow(items, write)`` calls ``write(part)`` on the whole list, and on a failure that ``isolates``
accepts, on each half in order, down to single items. Parts that succeed are done (each is its own
write: its own transaction); a single item that fails is returned with its error. Any other failure
propagates at once, leaving the parts already written as they are: callers redo the whole list, and
their writes are idempotent. With k offending items among n it costs about ``k·2·log2(n)`` writes.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def narrow(
    items: Sequence[T], write: Callable[[Sequence[T]], None], isolates: Callable[[Exception], bool]
) -> list[tuple[T, Exception]]:
    """Writes ``items`` part by part around the ones that fail alone; returns those, with their errors."""
    refused: list[tuple[T, Exception]] = []
    _narrow(items, write, isolates, refused)
    return refused


def _narrow(
    items: Sequence[T],
    write: Callable[[Sequence[T]], object],
    isolates: Callable[[Exception], bool],
    refused: list[tuple[T, Exception]],
) -> None:
    if not items:
        return
    try:
        write(items)
        return
    except Exception as exc:
        if not isolates(exc):
            raise
        if len(items) == 1:
            refused.append((items[0], exc))
            return
    middle = len(items) // 2
    _narrow(items[:middle], write, isolates, refused)
    _narrow(items[middle:], write, isolates, refused)
