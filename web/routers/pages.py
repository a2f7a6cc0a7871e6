"""The HTML page: its option fields are generated from the options schema, like the CLI's flags."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fabricate import __version__
from fabricate.color.palette import MAX_FILAMENTS
from fabricate.options import GROUPS, MAX_PHOTOS, all_option_fields
from web.models import printer_list

router = APIRouter(include_in_schema=False)
#: The printer the page starts with (the schema has no default: the CLI makes you name one).
PAGE_PRINTER = "bambu-a1"
#: Groups shown folded: slicer settings come from the preset, and most makers never change them.
FOLDED_GROUPS = ("print",)
#: What the page tells a maker about the shape before they build (why several photos are worth taking).
SHAPE_NOTE = ("From one photo you get a relief: the front is the photo, the back and sides are guessed "
              "(mirrored, thinner or flat). For a true solid, add photos from the sides and the back.")


def page_form(printers: list) -> dict:
    """How the generated form shows the schema's fields on this page."""
    return {
        # Views are picked beside each photo's thumbnail; the page writes the comma list into this field.
        "hidden_fields": {"views"},
        "preselected": {"printer": PAGE_PRINTER},
        "choice_labels": {"printer": {p.id: f"{p.name} ({' × '.join(str(round(v)) for v in p.build_volume_mm)} mm)"
                                      for p in printers}},
        # printer and colors: filled by the page with the chosen printer's details and filament slots
        "field_notes": {"printer": "", "model": SHAPE_NOTE, "colors": ""},
    }


def grouped_fields() -> list:
    """(key, heading, fields, folded) for each group that has fields, in display order."""
    fields = all_option_fields()
    return [(key, heading, [f for f in fields if f.spec.group == key], key in FOLDED_GROUPS)
            for key, heading in GROUPS.items() if any(f.spec.group == key for f in fields)]


@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    printers = printer_list()
    return request.app.state.templates.TemplateResponse(
        request, "index.html",
        {"printers": [p.model_dump() for p in printers], "groups": grouped_fields(), "ui": page_form(printers),
         "max_photos": MAX_PHOTOS, "max_filaments": MAX_FILAMENTS, "version": __version__})
