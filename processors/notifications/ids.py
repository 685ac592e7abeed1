"""Natural keys: the id of one (event, recipient) notification and of one quiet-hours digest.

Deterministic, so a redelivered event, a reconciler pass or a re-released digest produces the same
ids, which the tables' primary keys and the push sender's de-duplication collapse.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from processors.notifications.digests import Held

DIGEST_NAMESPACE = uuid.UUID("6c1d7f4e-7a0b-4e59-9a43-2f3f8f0c9d21")

_UUID5_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID5_SET = (0x8000 << 48) | (5 << 76)


def notification_id(event_id: uuid.UUID, user_id: str, *, namespace: bytes | None = None) -> uuid.UUID:
    """The natural key of one (event, recipient) notification: uuid5 with the event id as namespace,
    exactly ``uuid.uuid5(event_id, user_id)``. Computed here for every recipient (10,000 for an
    announcement), so without uuid5's per-call import and bytes→UUID checks (about half the cost;
    docs/decisions/0036-hot-path-shortcuts.md); pass ``namespace=event_id.bytes`` to compute it once per event."""
    digest = hashlib.sha1((namespace or event_id.bytes) + user_id.encode()).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16], "big") & _UUID5_CLEAR) | _UUID5_SET)


def alert_notification_id(event_id: uuid.UUID, user_id: str, step: int) -> uuid.UUID:
    """The natural key of the notification escalation step ``step`` of an alert sends ``user_id``.
    Step 0 is the notification the event would have had anyway (``notification_id``); a later step's
    is uuid5(event_id, "user_id#step"), so a user alerted again at another step gets a row of its own
    and a step redone after a crash gets the same ids."""
    if step == 0:
        return notification_id(event_id, user_id)
    return uuid.uuid5(event_id, f"{user_id}#{step}")


def digest_id(user_id: str, held: Iterable[Held]) -> uuid.UUID:
    """Deterministic over the set released, so a re-release after a crash collapses on the device
    and is de-duplicated by the sender."""
    return uuid.uuid5(DIGEST_NAMESPACE, user_id + ":" + ",".join(sorted(str(h.notification_id) for h in held)))
