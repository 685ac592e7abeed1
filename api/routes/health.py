"""``/healthz`` (the process answers), ``/readyz`` (and so does the database), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from api import queries
from api.database import Saturated
from api.deps import DatabaseDep
from api.metrics import metrics_endpoint
from api.schemas import Problem

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str


@router.get("/healthz", response_model=Status)
async def healthz() -> Status:
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Problem}})
async def readyz(db: DatabaseDep) -> Status:
    """503 while the database does not answer, or while more than half of the requests allowed to wait
    for a connection are waiting (a load balancer then sends less traffic here). It waits at most half
    a second for a connection."""
    if db.saturated:
        raise HTTPException(
            503, "saturated: requests are waiting for database connections", headers={"Retry-After": "1"}
        )
    try:
        await db.run(queries.ping, patience_s=0.5)
    except (SQLAlchemyError, Saturated):
        raise HTTPException(503, "database unreachable or saturated", headers={"Retry-After": "1"}) from None
    return Status(status="ready")


router.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
