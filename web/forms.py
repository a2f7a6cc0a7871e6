"""The job form, generated from the options schema (fabricate.options): one field per job option.

`POST /api/jobs` takes :data:`JobForm`, so its OpenAPI schema lists every option with
its type, default, help, choices and range, exactly as `fabricate make --help` does.
The form model only converts types (text to numbers, "true" to True); every value is
checked once, by the library (`MakeOptions.validate`), so the CLI and the API refuse
the same things with the same words.
"""
from __future__ import annotations

from typing import Any, Optional

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, create_model

from fabricate.options import MAX_PHOTOS, all_option_fields
from fabricate.schema import OptionField

#: The multipart field that carries the photos (repeated, one per photo).
PHOTO_FIELD = "photo"


def schema_extra(f: OptionField) -> dict:
    """What the OpenAPI schema says about a field beyond its type: choices, range and unit.

    Ranges are documented, not enforced here: the library checks them with its own words.
    """
    extra: dict[str, Any] = {}
    allowed = f.spec.allowed()
    if allowed is not None:
        extra["enum"] = list(allowed)
    if f.spec.minimum is not None:
        extra["exclusiveMinimum" if f.spec.exclusive_minimum else "minimum"] = f.spec.minimum
    if f.spec.maximum is not None:
        extra["maximum"] = f.spec.maximum
    if f.spec.unit:
        extra["x-unit"] = f.spec.unit
    if f.default is None and f.spec.default_text:
        extra["x-default"] = f.spec.default_text  # what an unset value means
    return extra


def form_field(f: OptionField) -> tuple:
    """The (annotation, FieldInfo) pair of one option in the form model."""
    annotation = Optional[f.kind] if f.optional or f.default is None else f.kind
    default = ... if f.required else f.default
    return annotation, Field(default, title=f.spec.label or f.name, description=f.spec.help,
                             json_schema_extra=schema_extra(f))


def job_form_model() -> type[BaseModel]:
    """A Pydantic model with the photos and one field per job option, in display order."""
    fields = {PHOTO_FIELD: (list[UploadFile], Field(
        ..., description=f"1 to {MAX_PHOTOS} photos of one object (repeat the field), JPEG, PNG or WebP; "
                         "say where each was taken from with `views`."))}
    fields.update({f.name: form_field(f) for f in all_option_fields()})
    # An unknown field (an old or misspelt name) is refused, never silently dropped.
    return create_model("JobForm", __config__=ConfigDict(extra="forbid"), **fields)


JobForm = job_form_model()


def option_values(form: BaseModel) -> dict:
    """The form's option values as one flat mapping for `MakeOptions.from_flat` (unset ones are None)."""
    return form.model_dump(exclude={PHOTO_FIELD})
