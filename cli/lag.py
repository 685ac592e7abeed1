"""``herald lag``: the lag exporter's snapshot as two rich tables (groups, then partitions)."""

from __future__ import annotations

from rich.table import Table

from processors.lag_exporter.app import Snapshot


def lag_tables(snapshot: Snapshot) -> list[Table]:
    """One row per group (state, members, total lag), then one per partition of every group."""
    groups = Table("group", "state", "members", "lag (messages)", "lag (seconds)", title="consumer groups")
    parts = Table(
        "group", "topic", "partition", "committed", "end", "lag (messages)", "lag (seconds)", title="partitions"
    )
    for g in snapshot.groups:
        style = "red" if g.members == 0 else None
        groups.add_row(g.group, g.state, str(g.members), str(g.messages), f"{g.seconds:.1f}", style=style)
        for p in g.partitions:
            seconds = "?" if p.seconds is None else f"{p.seconds:.1f}"
            parts.add_row(g.group, p.topic, str(p.partition), str(p.position), str(p.end), str(p.messages), seconds)
    if not snapshot.groups:
        groups.caption = "no consumer group with this prefix on the broker"
    return [groups, parts]
