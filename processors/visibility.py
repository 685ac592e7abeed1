"""Who may see an event in the feed and on a patient's timeline.

``can_see`` is the rule; the API's feed query mirrors it in SQL and must use the role sets exported here
(``tests/unit/processors/test_visibility.py`` is the table both must agree with)::

    e.organization_id = :viewer_org
    AND (   e.visibility = 'all_members'
         OR (e.visibility = 'actor_and_supervisors'
             AND (e.actor_user_id = :viewer OR e.actor_user_id IN (:supervisees) OR :roles && SUPERVISOR_ROLES))
         OR (e.visibility NOT IN ('all_members', 'actor_and_supervisors') AND :roles && CLINICAL_STAFF_ROLES))
    AND (e.patient_id IS NULL OR :roles && ORG_WIDE_PATIENT_ACCESS_ROLES OR e.patient_id IN (:care_team_patients))

A stored visibility Herald does not know is treated as ``clinical_staff`` (fail closed), as unknown
event types are. The patient gate applies to every visibility, the actor's own events included.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.catalogue import (
    ADMIN_ROLES,
    CLINICAL_ROLES,
    ORG_WIDE_PATIENT_ACCESS_ROLES,
    SUPERVISOR_ROLES,
    Visibility,
    effective_visibility,
)
from streams.messages import ActivityEvent

CLINICAL_STAFF_ROLES = CLINICAL_ROLES | ADMIN_ROLES

__all__ = [
    "CLINICAL_STAFF_ROLES",
    "ORG_WIDE_PATIENT_ACCESS_ROLES",
    "SUPERVISOR_ROLES",
    "FeedEvent",
    "Viewer",
    "ViewerFacts",
    "can_access_patient",
    "can_see",
]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """The columns of an ``activity_events`` row the rule reads; ``visibility`` is the effective one."""

    organization_id: str
    visibility: str
    actor_user_id: str | None = None
    patient_id: str | None = None

    @classmethod
    def of(cls, event: ActivityEvent) -> "FeedEvent":
        """The row the persister stores for ``event`` (visibility resolved through the catalogue)."""
        return cls(event.organization_id, effective_visibility(event).value, event.actor_user_id, event.patient_id)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller of the API, from the JWT: user id, organization, roles."""

    user_id: str
    organization_id: str
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ViewerFacts:
    """Directory facts about the viewer, loaded once per request: the patients whose care team the
    viewer is on, and the users whose supervisor the viewer is."""

    care_team_patient_ids: frozenset[str] = frozenset()
    supervisee_user_ids: frozenset[str] = frozenset()


def can_access_patient(patient_id: str, viewer: Viewer, facts: ViewerFacts) -> bool:
    """Called for patient timelines and patient events: care-team member, or organization-wide access.
    (The caller has already checked that the patient belongs to the viewer's organization.)"""
    return bool(viewer.roles & ORG_WIDE_PATIENT_ACCESS_ROLES) or patient_id in facts.care_team_patient_ids


def _visibility_allows(event: FeedEvent, viewer: Viewer, facts: ViewerFacts) -> bool:
    if event.visibility == Visibility.ALL_MEMBERS:
        return True
    if event.visibility == Visibility.ACTOR_AND_SUPERVISORS:
        actor = event.actor_user_id
        return (actor is not None and (actor == viewer.user_id or actor in facts.supervisee_user_ids)) or bool(
            viewer.roles & SUPERVISOR_ROLES
        )
    return bool(viewer.roles & CLINICAL_STAFF_ROLES)  # clinical_staff, and any value Herald does not know


def can_see(event: FeedEvent, viewer: Viewer, facts: ViewerFacts) -> bool:
    """Called for every feed row (and mirrored by the feed query): same organization, the event's
    visibility admits the viewer, and an event about a patient only for a viewer who may access them."""
    if event.organization_id != viewer.organization_id:
        return False
    if not _visibility_allows(event, viewer, facts):
        return False
    return event.patient_id is None or can_access_patient(event.patient_id, viewer, facts)
