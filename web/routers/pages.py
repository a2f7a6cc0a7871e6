"""The HTML page."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fabricate import __version__
from fabricate.printing import list_printers
from fabricate.printing.settings import PRESETS

router = APIRouter(include_in_schema=False)


def printer_choices() -> list:
    return [{"id": p.id, "name": p.name, "vendor": p.vendor, "model": p.model,
             "build_volume_mm": list(p.build_volume_mm), "filament_slots": p.filament_slots,
             "nozzle_diameter_mm": p.nozzle_diameter_mm, "bed_shape": p.bed_shape,
             "bed_origin_mm": list(p.bed_origin_mm)} for p in list_printers()]


@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    return request.app.state.templates.TemplateResponse(
        request, "index.html", {"printers": printer_choices(), "presets": list(PRESETS),
                                "default_printer": "bambu-a1", "version": __version__})
