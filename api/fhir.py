"""An alert's history as FHIR R4 Communication resources in a ``collection`` Bundle.

Pure. The mapping (docs/decisions/0181-fhir-communications-of-an-alert.md):

- One parent Communication for the alert (id = the event id), and one per (step, recipient) (id = the
  notification id), each ``partOf`` the parent. The parent is in the bundle, so every reference within
  it resolves there; a step's position is in the child's ``identifier`` and ``sent`` time.
- ``status`` (required binding, event-status): a recipient's awaiting → ``in-progress``; acknowledged →
  ``completed``; declined or closed without their answer → ``stopped`` with ``statusReason`` text. The
  parent: open → ``in-progress``, acknowledged → ``completed``, exhausted → ``stopped``.
- ``priority`` (request-priority): LOW and NORMAL → ``routine``, HIGH → ``urgent``, URGENT → ``stat``.
- ``category``: communication-category ``alert``. ``subject``: ``Patient/<patient_id>`` when there is a
  patient. ``recipient``: ``Practitioner/<user_id>``. ``sent``: when the notification was created;
  ``received``: when the recipient acknowledged. ``basedOn``: the event's resource.

No free text of the event (title, description) is carried, as the alert's JSON carries none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.alert_record import AlertRecord, Notified
from processors.notifications.alerts import AckStatus, AlertState

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/communication-category"
IDENTIFIER_SYSTEM = "urn:herald:alert-notification"
PRIORITY = {"LOW": "routine", "NORMAL": "routine", "HIGH": "urgent", "URGENT": "stat"}
RECIPIENT_STATUS = {
    AckStatus.AWAITING: "in-progress",
    AckStatus.ACKNOWLEDGED: "completed",
    AckStatus.DECLINED: "stopped",
    AckStatus.CLOSED: "stopped",
}
ALERT_STATUS = {AlertState.OPEN: "in-progress", AlertState.ACKNOWLEDGED: "completed", AlertState.EXHAUSTED: "stopped"}
STATUS_REASON = {
    AckStatus.DECLINED: "declined by the recipient",
    AckStatus.CLOSED: "the alert ended without this recipient's answer",
}


def _instant(value: datetime) -> str:
    return value.isoformat()


def _common(record: AlertRecord) -> dict[str, Any]:
    common: dict[str, Any] = {
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "alert"}]}],
        "priority": PRIORITY.get(record.priority, "stat"),  # an unknown priority errs towards urgency
    }
    if record.patient_id:
        common["subject"] = {"reference": f"Patient/{record.patient_id}"}
    if record.resource_type and record.resource_id:
        common["basedOn"] = [{"reference": f"{record.resource_type}/{record.resource_id}"}]
    return common


def parent(record: AlertRecord) -> dict[str, Any]:
    """The alert as a whole: sent when raised, to everyone any step notified."""
    recipients = sorted({n.user_id for s in record.steps for n in s.notified})
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(record.event_id),
        "status": ALERT_STATUS[record.state],
        **_common(record),
        "sent": _instant(record.raised_at),
    }
    if recipients:
        resource["recipient"] = [{"reference": f"Practitioner/{u}"} for u in recipients]
    return resource


def communication(
    record: AlertRecord, step: int, notified: Notified, common: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What step ``step`` sent one recipient, and their answer. ``common``: ``_common(record)``, made
    once per bundle (an announcement has thousands of recipients; the nested values may be shared, as
    they are only serialized)."""
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(notified.notification_id),
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": f"{record.event_id}/step/{step}/{notified.user_id}"}],
        "partOf": [{"reference": f"Communication/{record.event_id}"}],
        "status": RECIPIENT_STATUS[notified.status],
        **(common or _common(record)),
        "recipient": [{"reference": f"Practitioner/{notified.user_id}"}],
        "sent": _instant(notified.notified_at),
    }
    if notified.status in STATUS_REASON:
        resource["statusReason"] = {"text": STATUS_REASON[notified.status]}
    if notified.acknowledged_at is not None:
        resource["received"] = _instant(notified.acknowledged_at)
    return resource


def communications_bundle(record: AlertRecord) -> dict[str, Any]:
    """The parent first, then each step's Communications in step and recipient order."""
    common = _common(record)
    resources = [parent(record)] + [communication(record, s.step, n, common) for s in record.steps for n in s.notified]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
