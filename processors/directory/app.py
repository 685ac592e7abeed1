"""The directory processor: the compacted directory topic materialised into Postgres tables.

A record that cannot be applied is dead-lettered (``directory.dlq.v1``) with its reason instead of being
skipped: a key that is neither ``user:<id>`` nor ``care-team:<patient>:<user>``, or a value that names
another user, patient or kind of entity than its key. Either would otherwise vanish in silence, and the
key is what compaction and tombstones act on, so a value filed under the wrong key could never be
removed. Values that fail the schema's own checks are dead-lettered by the decoder before they get here.
"""

from __future__ import annotations

from sinks.postgres.directory import DirectoryBatch, MemberRow, UserRow
from streams.messages import DirectoryChange
from streams.records import DeadLetter, Outcome, Record

BAD_KEY = "DirectoryKeyInvalid"
MISMATCH = "DirectoryKeyMismatch"


def parse_key(key: bytes | None) -> tuple[str, ...] | None:
    """``user:<id>`` → ("user", id); ``care-team:<patient>:<user>`` → ("care-team", patient, user); else None."""
    text = (key or b"").decode(errors="replace")
    kind, _, rest = text.partition(":")
    if kind == "user" and rest:
        return ("user", rest)
    patient, _, user = rest.partition(":")
    if kind == "care-team" and patient and user:
        return ("care-team", patient, user)
    return None


def key_problem(key: tuple[str, ...], change: DirectoryChange | None) -> str | None:
    """Why ``change`` cannot be stored under ``key`` (None when it can: a tombstone always can)."""
    if change is None:
        return None
    if key[0] == "user":
        if change.entity != "user":
            return f"key names a user but the value is a {change.entity}"
        if change.user_id != key[1]:
            return "key's user id differs from the value's user_id"
        return None
    if change.entity != "care_team_member":
        return f"key names a care-team member but the value is a {change.entity}"
    if (change.patient_id, change.user_id) != (key[1], key[2]):
        return "key's patient or user id differs from the value's patient_id or user_id"
    return None


def reduce_batch(batch: list[Record]) -> tuple[DirectoryBatch, list[DeadLetter]]:
    """Keeps the last change per key (as compaction would) and sorts them into upserts and removals;
    the records that cannot be applied come back as dead letters with their reason (module doc)."""
    last: dict[tuple[str, ...], DirectoryChange | None] = {}
    dead: list[DeadLetter] = []
    for record in batch:
        key = parse_key(record.message.key())
        if key is None:
            dead.append(DeadLetter("key is neither user:<id> nor care-team:<patient>:<user>", BAD_KEY, record.message))
            continue
        problem = key_problem(key, record.value)
        if problem is not None:
            dead.append(DeadLetter(problem, MISMATCH, record.message))
            continue
        last[key] = record.value
    out = DirectoryBatch()
    for key, change in last.items():
        _apply(out, key, change)
    return out, dead


def _apply(out: DirectoryBatch, key: tuple[str, ...], change: DirectoryChange | None) -> None:
    if change is None:
        if key[0] == "user":
            out.removed_users.append(key[1])
        else:
            out.removed_members.append((key[1], key[2]))
    elif change.entity == "user":
        out.users.append(
            UserRow(
                change.user_id,
                change.organization_id,
                change.roles,
                change.active,
                change.timezone,
                change.supervisor_user_id,
                change.changed_at,
            )
        )
    else:  # a care-team member: key_problem made sure its patient_id is the key's
        out.members.append(MemberRow(key[1], change.user_id, change.organization_id, change.active, change.changed_at))


class DirectoryProcessor:
    name = "directory"

    def handle(self, batch: list[Record]) -> Outcome[DirectoryBatch]:
        writes, dead = reduce_batch(batch)
        return Outcome(writes=writes, dead_letters=dead)
