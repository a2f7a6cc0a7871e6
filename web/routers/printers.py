"""The printer profiles."""
from __future__ import annotations

from fastapi import APIRouter

from web.models import PrinterOut, printer_list

router = APIRouter(prefix="/api", tags=["printers"])


@router.get("/printers", response_model=list[PrinterOut])
def printers():
    """Every printer profile: name, build volume, nozzle, filament slots."""
    return printer_list()
