"""The event catalogue: what each EMR event type means to Herald.

One table, ``CATALOGUE``: event type -> default priority, feed visibility, recipient rule, whether the
type is on in a new user's preferences, and a PHI-free push title/body. Extend the table; never test
for an event type anywhere else (the one exception is ANNOUNCEMENT_URGENT's override of preferences,
which reaches users whatever their preferences, as ``processors.notifications.decisions.decide`` implements).

Which types need an acknowledgement, and whom an unacknowledged one escalates to, is the catalogue's
escalation column, ``processors.notifications.escalation_policy.DEFAULT_POLICIES``.

Unknown types are still stored: ``lookup`` returns a fallback entry (clinical staff only, notify no one,
``known=False``) until the catalogue learns them.

Roles. The feed rule (``processors.visibility``) and its SQL mirror use these sets:

- ``CLINICAL_ROLES`` see ``clinical_staff`` events (for patients they may access).
- ``ADMIN_ROLES`` (admin, medical_director) are organization-wide administrators: they see
  ``clinical_staff`` events and may access every patient of their organization.
- ``ORG_WIDE_PATIENT_ACCESS_ROLES`` may access every patient of the organization without being on the
  care team. Decision: ``front_desk`` is in this set, because registration and scheduling need every
  patient's demographics and appointments, but it is *not* a clinical role, so front desk sees
  ``all_members`` events (registrations, appointments) and never ``clinical_staff`` ones (lab results,
  prescriptions, signed encounters).
- ``SUPERVISOR_ROLES`` supervise everyone in the organization: they see every ``actor_and_supervisors``
  event (access audits, role changes), not only those of the users who report to them. Today the same
  members as ``ADMIN_ROLES``; kept apart so the two can diverge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.messages import ActivityEvent, Priority


class Visibility(StrEnum):
    """Who sees an event in the feed; values match ``streams.messages.VISIBILITIES``."""

    ALL_MEMBERS = "all_members"
    CLINICAL_STAFF = "clinical_staff"
    ACTOR_AND_SUPERVISORS = "actor_and_supervisors"


class RecipientRule(StrEnum):
    """Who is notified of an event; also the ``reason`` stored with each notification."""

    PRACTITIONER = "practitioner"
    CARE_TEAM = "care_team"
    ORGANIZATION = "organization"
    USER = "user"  # one named user: an escalation step's target, never a catalogue rule
    NONE = "none"


CLINICAL_ROLES = frozenset(
    {
        "physician",
        "nurse",
        "nurse_practitioner",
        "physician_assistant",
        "pharmacist",
        "lab_technician",
        "care_coordinator",
    }
)
ADMIN_ROLES = frozenset({"admin", "medical_director"})
ORG_WIDE_PATIENT_ACCESS_ROLES = ADMIN_ROLES | {"front_desk"}
SUPERVISOR_ROLES = frozenset({"admin", "medical_director"})

ANNOUNCEMENT_URGENT = "ANNOUNCEMENT_URGENT"
GENERIC_BODY = "Open Herald to view it."


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What Herald knows about one event type. ``push_title``/``push_body`` never carry PHI."""

    event_type: str
    priority: Priority
    visibility: Visibility
    recipients: RecipientRule
    push_title: str
    push_body: str = GENERIC_BODY
    enabled_by_default: bool = True
    known: bool = True


def _entry(
    event_type: str,
    priority: Priority,
    visibility: Visibility,
    recipients: RecipientRule,
    title: str,
    *,
    enabled_by_default: bool = True,
) -> tuple[str, CatalogueEntry]:
    entry = CatalogueEntry(
        event_type,
        priority,
        visibility,
        recipients,
        title,
        enabled_by_default=enabled_by_default and recipients != RecipientRule.NONE,
    )
    return event_type, entry


_P, _V, _R = Priority, Visibility, RecipientRule

# DOCUMENT_UPLOADED is off by default: scanned faxes and attachments arrive in bulk and would drown
# the bell; a user can turn it on. Types with rule "none" notify no one, so they are never "enabled".
CATALOGUE: dict[str, CatalogueEntry] = dict(
    [
        _entry("PATIENT_REGISTERED", _P.LOW, _V.ALL_MEMBERS, _R.NONE, "New patient registered"),
        _entry("PATIENT_UPDATED", _P.LOW, _V.ALL_MEMBERS, _R.NONE, "Patient record updated"),
        _entry("APPOINTMENT_SCHEDULED", _P.NORMAL, _V.ALL_MEMBERS, _R.PRACTITIONER, "New appointment"),
        _entry("APPOINTMENT_CANCELLED", _P.NORMAL, _V.ALL_MEMBERS, _R.PRACTITIONER, "Appointment cancelled"),
        _entry("APPOINTMENT_RESCHEDULED", _P.NORMAL, _V.ALL_MEMBERS, _R.PRACTITIONER, "Appointment rescheduled"),
        _entry("APPOINTMENT_CHECKED_IN", _P.NORMAL, _V.ALL_MEMBERS, _R.PRACTITIONER, "Patient checked in"),
        _entry("LAB_RESULT_RECEIVED", _P.NORMAL, _V.CLINICAL_STAFF, _R.CARE_TEAM, "New lab result"),
        _entry("LAB_RESULT_CRITICAL", _P.URGENT, _V.CLINICAL_STAFF, _R.CARE_TEAM, "Critical lab result"),
        _entry("MEDICATION_PRESCRIBED", _P.NORMAL, _V.CLINICAL_STAFF, _R.CARE_TEAM, "New prescription"),
        _entry("ENCOUNTER_SIGNED", _P.NORMAL, _V.CLINICAL_STAFF, _R.CARE_TEAM, "Encounter signed"),
        _entry("DOCUMENT_UPLOADED", _P.LOW, _V.CLINICAL_STAFF, _R.CARE_TEAM, "New document", enabled_by_default=False),
        _entry("TASK_ASSIGNED", _P.NORMAL, _V.ALL_MEMBERS, _R.PRACTITIONER, "New task assigned to you"),
        _entry("REFERRAL_RECEIVED", _P.NORMAL, _V.CLINICAL_STAFF, _R.PRACTITIONER, "New referral"),
        _entry("ANNOUNCEMENT", _P.NORMAL, _V.ALL_MEMBERS, _R.ORGANIZATION, "New announcement"),
        _entry(ANNOUNCEMENT_URGENT, _P.URGENT, _V.ALL_MEMBERS, _R.ORGANIZATION, "Urgent announcement"),
        _entry("AUDIT_ACCESS", _P.LOW, _V.ACTOR_AND_SUPERVISORS, _R.NONE, "Record access logged"),
        _entry("USER_ROLE_CHANGED", _P.NORMAL, _V.ACTOR_AND_SUPERVISORS, _R.NONE, "User role changed"),
    ]
)

DEFAULT_ENABLED_TYPES = frozenset(t for t, e in CATALOGUE.items() if e.enabled_by_default)


def lookup(event_type: str) -> CatalogueEntry:
    """Called for every event; an unknown type gets the fallback (clinical staff, notify no one)."""
    entry = CATALOGUE.get(event_type)
    if entry is not None:
        return entry
    return CatalogueEntry(
        event_type,
        Priority.NORMAL,
        Visibility.CLINICAL_STAFF,
        RecipientRule.NONE,
        "New activity",
        enabled_by_default=False,
        known=False,
    )


def effective_priority(event: ActivityEvent) -> Priority:
    """The priority the fan-out acts on: the producer's, when it set one, else the type's default."""
    return event.priority or lookup(event.event_type).priority


def effective_visibility(event: ActivityEvent) -> Visibility:
    """The visibility the persister stores: the event's override, when set, else the type's."""
    if event.visibility:
        return Visibility(event.visibility)
    return lookup(event.event_type).visibility
