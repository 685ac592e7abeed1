"""Synthetic EMR traffic for the demo, tests and benchmarks: made-up people, believable mix.

Pure and seeded: the same seed gives the same world and the same events (ids included), which
is what "publish the same events twice" tests need. Patient names are invented from small word
lists and appear in titles on purpose, so tests can prove they never reach a push payload.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator

from streams.messages import ActivityEvent, DirectoryChange

_FIRST = [
    "Mara",
    "Tobin",
    "Ilse",
    "Corwin",
    "Nadia",
    "Osric",
    "Pella",
    "Quentin",
    "Rhea",
    "Soren",
    "Talia",
    "Ulric",
    "Vesna",
    "Wyatt",
    "Xanthe",
    "Yorick",
    "Zelda",
    "Anselm",
    "Brisa",
    "Cato",
]
_LAST = [
    "Quill",
    "Ambrose",
    "Fennimore",
    "Halloway",
    "Ingersoll",
    "Jubb",
    "Kestrel",
    "Lockhart",
    "Marwood",
    "Nettle",
    "Oakhurst",
    "Pembry",
    "Roakes",
    "Stallworth",
    "Thistlewood",
    "Underhay",
    "Vantongeren",
    "Wexley",
]
_ROLES = [
    ("physician", 30),
    ("nurse", 30),
    ("front_desk", 12),
    ("lab_technician", 10),
    ("pharmacist", 6),
    ("care_coordinator", 6),
    ("medical_director", 2),
    ("admin", 4),
]
_ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin", None]
# (event type, weight, resource type, actor role, title template)
_MIX = [
    ("APPOINTMENT_SCHEDULED", 20, "Appointment", "front_desk", "Appointment booked for {patient}"),
    ("APPOINTMENT_CHECKED_IN", 10, "Appointment", "front_desk", "{patient} checked in"),
    ("APPOINTMENT_CANCELLED", 4, "Appointment", "front_desk", "Appointment cancelled for {patient}"),
    ("LAB_RESULT_RECEIVED", 15, "Observation", "lab_technician", "Lab result for {patient}"),
    ("LAB_RESULT_CRITICAL", 1, "Observation", "lab_technician", "Critical potassium for {patient}"),
    ("MEDICATION_PRESCRIBED", 10, "MedicationRequest", "physician", "Prescription for {patient}"),
    ("ENCOUNTER_SIGNED", 10, "Encounter", "physician", "Visit note signed for {patient}"),
    ("PATIENT_UPDATED", 10, "Patient", "front_desk", "Demographics updated for {patient}"),
    ("PATIENT_REGISTERED", 5, "Patient", "front_desk", "{patient} registered"),
    ("DOCUMENT_UPLOADED", 6, "DocumentReference", "nurse", "Scanned referral letter for {patient}"),
    ("TASK_ASSIGNED", 5, "Task", "nurse", "Call back {patient} about results"),
    ("AUDIT_ACCESS", 3, "AuditEvent", "physician", "Chart of {patient} opened"),
    ("ANNOUNCEMENT", 0.5, None, "admin", "Staff meeting moved to Thursday"),
    ("ANNOUNCEMENT_URGENT", 0.2, None, "admin", "Fire drill in building B at 14:00"),
    ("IMMUNIZATION_RECORDED", 0.3, "Immunization", "nurse", "Flu shot recorded for {patient}"),  # not in the catalogue
]
_NOTIFY = {
    "APPOINTMENT_SCHEDULED",
    "APPOINTMENT_CHECKED_IN",
    "APPOINTMENT_CANCELLED",
    "LAB_RESULT_RECEIVED",
    "LAB_RESULT_CRITICAL",
    "MEDICATION_PRESCRIBED",
    "ENCOUNTER_SIGNED",
    "DOCUMENT_UPLOADED",
    "TASK_ASSIGNED",
    "ANNOUNCEMENT",
    "ANNOUNCEMENT_URGENT",
    "IMMUNIZATION_RECORDED",
}
_CLINICAL = {"physician", "nurse", "lab_technician", "pharmacist", "care_coordinator"}


@dataclass
class Organization:
    organization_id: str
    users: list[DirectoryChange] = field(default_factory=list)
    patients: dict[str, str] = field(default_factory=dict)  # patient id -> made-up name
    care_team: dict[str, list[str]] = field(default_factory=dict)  # patient id -> user ids
    physicians: set[str] = field(default_factory=set)

    def by_role(self, role: str) -> list[DirectoryChange]:
        return [u for u in self.users if role in u.roles] or self.users


@dataclass
class DemoWorld:
    organizations: list[Organization]

    def directory(self, now: datetime) -> list[DirectoryChange]:
        """Every user, then every care-team membership, as DirectoryChange records."""
        changes = [u for org in self.organizations for u in org.users]
        for org in self.organizations:
            for patient_id, members in org.care_team.items():
                changes += [
                    DirectoryChange("care_team_member", org.organization_id, user_id, now, patient_id=patient_id)
                    for user_id in members
                ]
        return changes


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def build_world(
    rng: random.Random,
    now: datetime,
    *,
    organizations: int = 3,
    users_per_org: int = 40,
    patients_per_org: int = 300,
    org_prefix: str = "",
) -> DemoWorld:
    """Organizations with users (roles, zones, a supervisor), patients and care teams.
    ``org_prefix`` keeps several worlds apart in one database (tests)."""
    orgs = [
        _organization(rng, now, f"{org_prefix}org-{i + 1:03d}", users_per_org, patients_per_org)
        for i in range(organizations)
    ]
    return DemoWorld(orgs)


def _organization(
    rng: random.Random, now: datetime, organization_id: str, n_users: int, n_patients: int
) -> Organization:
    org = Organization(organization_id)
    roles = [r for r, _ in _ROLES]
    weights = [w for _, w in _ROLES]
    director = f"{org.organization_id}-u0001"
    for u in range(n_users):
        role = "medical_director" if u == 0 else rng.choices(roles, weights)[0]
        org.users.append(
            DirectoryChange(
                "user",
                org.organization_id,
                f"{org.organization_id}-u{u + 1:04d}",
                now,
                roles=(role,),
                active=rng.random() > 0.03 or u == 0,
                timezone=rng.choice(_ZONES),
                supervisor_user_id=None if u == 0 else director,
            )
        )
    org.physicians = {u.user_id for u in org.users if "physician" in u.roles}
    clinicians = [u.user_id for u in org.users if set(u.roles) & _CLINICAL and u.active] or [director]
    for p in range(n_patients):
        patient_id = f"{org.organization_id}-p{p + 1:05d}"
        org.patients[patient_id] = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        org.care_team[patient_id] = rng.sample(clinicians, k=min(len(clinicians), rng.randint(2, 4)))
    return org


def demo_events(
    world: DemoWorld, rng: random.Random, count: int, start: datetime, spacing: timedelta = timedelta(milliseconds=50)
) -> Iterator[ActivityEvent]:
    """``count`` events across the world's organizations, ``spacing`` apart from ``start``."""
    weights = [m[1] for m in _MIX]
    for i in range(count):
        org = rng.choice(world.organizations)
        event_type, _, resource_type, actor_role, template = rng.choices(_MIX, weights)[0]
        yield _event(rng, org, event_type, resource_type, actor_role, template, start + i * spacing)


def _event(rng, org: Organization, event_type, resource_type, actor_role, template, at) -> ActivityEvent:
    patient_id = None if resource_type is None else rng.choice(list(org.patients))
    care_team = org.care_team.get(patient_id, []) if patient_id is not None else []
    physicians = [u for u in care_team if u in org.physicians]
    practitioner = rng.choice(physicians or care_team or [org.users[0].user_id])
    return ActivityEvent(
        event_id=_uuid(rng),
        event_type=event_type,
        occurred_at=at,
        organization_id=org.organization_id,
        title=template.format(patient=org.patients.get(patient_id, "") if patient_id is not None else ""),
        actor_user_id=rng.choice(org.by_role(actor_role)).user_id,
        patient_id=patient_id,
        resource_type=resource_type,
        resource_id=f"{resource_type.lower()}-{rng.getrandbits(40):x}" if resource_type else None,
        practitioner_user_id=practitioner if patient_id else None,
        description=f"Details for {org.patients[patient_id]}" if patient_id and rng.random() < 0.5 else None,
        notify=event_type in _NOTIFY,
        source="demo-emr",
    )
