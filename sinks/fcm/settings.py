"""Settings of the FCM client (``sinks.fcm.client``): where pushes go and how they are sent."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from streams.settings import HERALD_CONFIG


class FcmSettings(BaseSettings):
    """Where pushes go. ``fcm_endpoint`` set: an FCM-compatible server (the emulator in ``deploy/``),
    with a do-nothing credential unless ``fcm_credentials`` names a service-account file (whose
    ``token_uri`` may point at the emulator's ``/token``). Unset: Google's FCM, with the service
    account in ``fcm_credentials`` or Application Default Credentials."""

    model_config = HERALD_CONFIG

    fcm_endpoint: str | None = Field(
        default=None, description="Base URL of an FCM-compatible server (the emulator); unset: Google's FCM"
    )
    fcm_project_id: str = Field(default="herald-local", description="Firebase project id")
    fcm_credentials: SecretStr | None = Field(default=None, description="Path of a service-account JSON file")
    fcm_transport: str = Field(
        default="pool",
        pattern="^(pool|httpx)$",
        description="HTTP client of the FCM sends: pool (lean HTTP/1.1 pool) or httpx (firebase-admin's own)",
    )
    fcm_connections: int = Field(default=48, ge=1, le=1000, description="Most concurrent connections to FCM")
    fcm_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one FCM request, in seconds")
