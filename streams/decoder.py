"""Decoding never raises into the loop: it returns ``Record | DeadLetter``."""

from __future__ import annotations

from typing import Any, Callable

from streams.errors import DecodeError, InvalidEvent
from streams.records import DeadLetter, Message, Record
from streams.serde import AvroSerde


class Decoder:
    """Bytes → validated message dataclass, or the reason it cannot be one."""

    def __init__(self, serde: AvroSerde, parse: Callable[[dict[str, Any]], Any], *, tombstones: bool = False) -> None:
        self._serde = serde
        self._parse = parse
        self._tombstones = tombstones

    def __call__(self, msg: Message) -> Record | DeadLetter:
        raw = msg.value()
        if raw is None and self._tombstones:
            return Record(None, msg)
        try:
            return Record(self._parse(self._serde.decode(raw)), msg)
        except DecodeError as exc:
            return DeadLetter(str(exc), "DecodeError", msg)
        except InvalidEvent as exc:
            return DeadLetter(str(exc), "InvalidEvent", msg)
        except (KeyError, TypeError, ValueError) as exc:
            return DeadLetter(f"{type(exc).__name__}: {exc}", "InvalidEvent", msg)
