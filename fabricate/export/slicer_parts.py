"""Slicer-specific parts added to a 3MF that lib3mf has written.

lib3mf writes the standard model (geometry, colour group, metadata). Slicers need
more: per-triangle painting attributes that no 3MF library writes, and their own
settings files. This module rewrites the package once: it adds the attributes to
each `<triangle>` of the model part and stores the settings parts beside it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from fabricate.export.painting import paint_codes
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.settings import PrintSettings

SLICERS = ("prusa", "bambu", "orca", "generic")
MODEL_PART = "3D/3dmodel.model"
SLIC3RPE_NAMESPACE = "http://schemas.slic3r.org/3mf/2017/06"
#: Bambu Studio and OrcaSlicer load a 3MF's settings only when its Application
#: metadata names them (see fabricate/export/SLICER_READERS.md).
APPLICATION_FOR = {"bambu": "BambuStudio-02.04.00.70", "orca": "OrcaSlicer-2.3.1"}


def parse_slicers(value: str) -> tuple:
    """'prusa,bambu' or 'all' -> a tuple of slicer names."""
    from fabricate.errors import InputError

    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if names == ["all"]:
        return ("prusa", "bambu", "orca")
    unknown = [n for n in names if n not in SLICERS]
    if unknown or not names:
        raise InputError(f"unknown slicer {', '.join(unknown) or value!r}; choose from {', '.join(SLICERS)} or all")
    return tuple(dict.fromkeys(names))


@dataclass
class SlicerParts:
    """What to add for the chosen slicers.

    Attributes
    ----------
    face_filament : (m,) int
        0-based filament per triangle (painting state = filament + 1).
    settings : PrintSettings
    printer : PrinterProfile
    slicers : tuple
        Any of "prusa", "bambu", "orca", "generic" ("generic" adds nothing).
    """

    face_filament: np.ndarray
    settings: PrintSettings
    printer: PrinterProfile
    slicers: tuple = ("prusa", "bambu", "orca")

    @property
    def application(self) -> Optional[str]:
        """The Application name the chosen slicer's reader requires, if exactly one needs it.

        With several slicers chosen, fabricate keeps its own name so none is misled;
        Bambu Studio and OrcaSlicer then read the geometry and painting only.
        """
        chosen = [s for s in self.slicers if s in APPLICATION_FOR]
        if len(chosen) == 1 and "prusa" not in self.slicers:
            return APPLICATION_FOR[chosen[0]]
        return None

    def triangle_attributes(self) -> np.ndarray:
        codes = paint_codes(self.face_filament)
        parts = []
        if "prusa" in self.slicers:
            parts.append(np.char.add(np.char.add(' slic3rpe:mmu_segmentation="', codes.astype(str)), '"'))
        if "bambu" in self.slicers or "orca" in self.slicers:
            parts.append(np.char.add(np.char.add(' paint_color="', codes.astype(str)), '"'))
        if not parts:
            return np.full(len(codes), "", dtype=object)
        out = parts[0]
        for extra in parts[1:]:
            out = np.char.add(out, extra)
        return out.astype(object)

    def extra_files(self, object_id: int, title: str, triangle_count: int) -> dict:
        from fabricate.export import bambu, prusaslicer

        files = {}
        if "prusa" in self.slicers:
            files["Metadata/Slic3r_PE.config"] = prusaslicer.slic3r_pe_config(self.settings, self.printer)
            files["Metadata/Slic3r_PE_model.config"] = prusaslicer.slic3r_pe_model_config(
                object_id, triangle_count, title)
        if "bambu" in self.slicers or "orca" in self.slicers:
            files["Metadata/project_settings.config"] = bambu.project_settings(self.settings, self.printer)
            files["Metadata/model_settings.config"] = bambu.model_settings(object_id, triangle_count, title)
        return files

    def add_to_package(self, path: str, object_id: int, title: str) -> None:
        """Rewrite the 3MF at ``path`` in place with the painting attributes and settings parts."""
        with zipfile.ZipFile(path) as source:
            model = source.read(MODEL_PART).decode("utf-8")
            others = [(info, source.read(info.filename)) for info in source.infolist()
                      if info.filename != MODEL_PART]
        model = self._paint_model(model)
        extra = self.extra_files(object_id, title, len(self.face_filament))
        directory = os.path.dirname(os.path.abspath(path))
        fd, temporary = tempfile.mkstemp(prefix=".partial-", suffix=".3mf", dir=directory)
        os.close(fd)
        try:
            with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
                target.writestr(MODEL_PART, model)
                for info, data in others:
                    if info.filename == "[Content_Types].xml":
                        data = _with_config_content_type(data.decode("utf-8")).encode("utf-8")
                    target.writestr(info, data)
                for name, text in extra.items():
                    target.writestr(name, text)
            shutil.move(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def _paint_model(self, model: str) -> str:
        start = model.index("<triangles>")
        end = model.index("</triangles>", start)
        pieces = model[start:end].split("/>")
        if len(pieces) - 1 != len(self.face_filament):
            raise ValueError(f"the model part has {len(pieces) - 1} triangles, expected {len(self.face_filament)}")
        attributes = self.triangle_attributes()
        body = "".join(piece.rstrip() + attr + "/>" for piece, attr in zip(pieces[:-1], attributes)) + pieces[-1]
        head = model[:start]
        if "prusa" in self.slicers:
            head = head.replace("<model ", f'<model xmlns:slic3rpe="{SLIC3RPE_NAMESPACE}" ', 1)
            tag_end = head.index(">", head.index("<model ")) + 1
            head = head[:tag_end] + '\n\t<metadata name="slic3rpe:MmPaintingVersion">1</metadata>' + head[tag_end:]
        return head + body + model[end:]


def _with_config_content_type(types: str) -> str:
    if 'Extension="config"' in types:
        return types
    return types.replace("</Types>", '<Default Extension="config" ContentType="text/plain"/></Types>')
