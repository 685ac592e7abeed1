"""``/healthz`` (the process answers), ``/readyz`` (and so does the database), ``/metrics``."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from api import queries
from api.deps import SessionDep
from api.metrics import metrics_endpoint
from api.schemas import Problem

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str


@router.get("/healthz", response_model=Status)
async def healthz() -> Status:
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Problem}})
def readyz(session: SessionDep) -> Status:
    """503 while the database does not answer (a load balancer then stops sending traffic)."""
    try:
        queries.ping(session=session)
    except SQLAlchemyError:
        raise HTTPException(503, "database unreachable") from None
    return Status(status="ready")


router.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
