"""The directory processor: the compacted directory topic materialised into Postgres tables."""
from __future__ import annotations

from streams.messages import DirectoryChange
from streams.records import Outcome, Record
from sinks.postgres.directory import DirectoryBatch, MemberRow, UserRow


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


def reduce_batch(batch: list[Record]) -> DirectoryBatch:
    """Keeps the last change per key (as compaction would) and sorts them into upserts and removals."""
    last: dict[tuple[str, ...], DirectoryChange | None] = {}
    for record in batch:
        key = parse_key(record.message.key())
        if key is not None:
            last[key] = record.value
    out = DirectoryBatch()
    for key, change in last.items():
        _apply(out, key, change)
    return out


def _apply(out: DirectoryBatch, key: tuple[str, ...], change: DirectoryChange | None) -> None:
    if change is None:
        if key[0] == "user":
            out.removed_users.append(key[1])
        else:
            out.removed_members.append((key[1], key[2]))
    elif change.entity == "user":
        out.users.append(UserRow(change.user_id, change.organization_id, change.roles, change.active,
                                 change.timezone, change.supervisor_user_id, change.changed_at))
    else:
        out.members.append(MemberRow(change.patient_id, change.user_id, change.organization_id, change.active,
                                     change.changed_at))


class DirectoryProcessor:
    name = "directory"

    def handle(self, batch: list[Record]) -> Outcome:
        return Outcome(writes=reduce_batch(batch))
