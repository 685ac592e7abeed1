"""The limits of every field of the wire messages, written once.

The producer SDK refuses an event that breaks one (``InvalidEvent`` at the call), the decoders
dead-letter one that a foreign producer wrote straight to the topic, and the Postgres columns are
exactly as wide as these (tests compare them with ``sinks/postgres/models.py`` and with the migrated
database): an event the SDK accepts is one the database stores.

Characters: Postgres text cannot hold NUL (U+0000), in a column or in JSONB, so no string field may
contain one. Everything else valid Unicode is stored as it is.
"""

from __future__ import annotations

from typing import Any, Mapping

ID_MAX = 64  # organization, user, patient, encounter ids; the source service's name
NUL = "\x00"

# ActivityEvent: field -> most characters. Each is the width of the activity_events column of that name.
ACTIVITY_TEXT_MAX: dict[str, int] = {
    "event_type": 64,
    "organization_id": ID_MAX,
    "actor_user_id": ID_MAX,
    "patient_id": ID_MAX,
    "encounter_id": ID_MAX,
    "resource_type": 64,
    "resource_id": 128,
    "practitioner_user_id": ID_MAX,
    "title": 200,
    "description": 4000,  # a TEXT column: the limit is the feed's, not the database's
    "visibility": 32,
    "source": ID_MAX,
}
ATTRIBUTES_MAX = 64  # entries of the free-form attributes map (JSONB)
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_VALUE_MAX = 2000

# DirectoryChange: field -> most characters (directory_users, care_team_members).
DIRECTORY_TEXT_MAX: dict[str, int] = {
    "organization_id": ID_MAX,
    "user_id": ID_MAX,
    "patient_id": ID_MAX,
    "supervisor_user_id": ID_MAX,
    "timezone": 64,
}
ROLE_MAX = 32
ROLES_MAX = 32

_ACTIVITY_CHECKED = tuple(ACTIVITY_TEXT_MAX.items())
_DIRECTORY_CHECKED = tuple(DIRECTORY_TEXT_MAX.items())


def text_problem(name: str, value: str, most: int) -> str | None:
    """Why ``value`` cannot be field ``name``, or None."""
    if len(value) > most:
        return f"{name} is {len(value)} characters; at most {most}"
    if NUL in value:
        return f"{name} contains a NUL character, which Postgres cannot store"
    return None


def activity_limits_problem(d: Mapping[str, Any]) -> str | None:
    """The first limit an activity event (its Avro dict, or its fields) breaks, or None. On the
    persister's hot path: one length and one ``in`` test per present field, messages built on failure."""
    for name, most in _ACTIVITY_CHECKED:
        value = d.get(name)
        if value and (len(value) > most or NUL in value):
            return text_problem(name, value, most)
    attributes = d.get("attributes")
    return attributes_problem(attributes) if attributes else None


def attributes_problem(attributes: Mapping[str, str]) -> str | None:
    if len(attributes) > ATTRIBUTES_MAX:
        return f"attributes has {len(attributes)} entries; at most {ATTRIBUTES_MAX}"
    for key, value in attributes.items():
        problem = text_problem("an attribute key", key, ATTRIBUTE_KEY_MAX) or text_problem(
            "an attribute value", value, ATTRIBUTE_VALUE_MAX
        )
        if problem is not None:
            return problem
    return None


def directory_limits_problem(d: Mapping[str, Any]) -> str | None:
    """The first limit a directory change breaks, or None."""
    for name, most in _DIRECTORY_CHECKED:
        value = d.get(name)
        if value and (len(value) > most or NUL in value):
            return text_problem(name, value, most)
    roles = d.get("roles") or ()
    if len(roles) > ROLES_MAX:
        return f"roles has {len(roles)} entries; at most {ROLES_MAX}"
    for role in roles:
        problem = text_problem("a role", role, ROLE_MAX)
        if problem is not None:
            return problem
    return None
