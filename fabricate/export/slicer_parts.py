"""What the slicers need in a 3MF beyond the standard model.

PrusaSlicer, Bambu Studio and OrcaSlicer read per-triangle painting attributes and
their own settings parts (fabricate/export/SLICER_READERS.md cites their readers).
:class:`SlicerParts` says, for the chosen slicers, which namespaces, metadata and
triangle attributes the model part carries and which settings parts go beside it;
fabricate/export/threemf.py writes them all in its one pass over the package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fabricate.export.bambu import BAMBU_APPLICATION
from fabricate.export.painting import paint_code_table
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.settings import PrintSettings

SLICERS = ("prusa", "bambu", "orca", "generic")
SLIC3RPE_NAMESPACE = "http://schemas.slic3r.org/3mf/2017/06"


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
        """The Application name Bambu Studio's and OrcaSlicer's reader needs, when either is chosen.

        It serves all three slicers from one file: Bambu Studio and OrcaSlicer load the
        settings (and Bambu Studio skips its colour-import dialog) only when the name starts
        with "BambuStudio-", while PrusaSlicer reads its own settings and painting whatever
        the name, as long as it does not say "PrusaSlicer" (fabricate/export/SLICER_READERS.md).
        """
        return BAMBU_APPLICATION if self._bambu_reader else None

    @property
    def namespaces(self) -> dict:
        """Prefix -> namespace the model part declares for these slicers' attributes."""
        return {"slic3rpe": SLIC3RPE_NAMESPACE} if "prusa" in self.slicers else {}

    @property
    def model_metadata(self) -> dict:
        """Model metadata these slicers look for: PrusaSlicer reads painting only with MmPaintingVersion."""
        return {"slic3rpe:MmPaintingVersion": "1"} if "prusa" in self.slicers else {}

    def triangle_attributes(self) -> tuple:
        """The painting attributes of each filament as XML text, and each triangle's filament.

        Returns
        -------
        table : list of str
            For filament k, e.g. ``' slic3rpe:mmu_segmentation="8" paint_color="8"'`` ("" when no
            chosen slicer paints).
        face_filament : (m,) int
            Each triangle's index into ``table``.
        """
        names = []
        if "prusa" in self.slicers:
            names.append("slic3rpe:mmu_segmentation")
        if self._bambu_reader:
            names.append("paint_color")
        table = ["".join(f' {name}="{code}"' for name in names) for code in paint_code_table(self.face_filament)]
        return table, self.face_filament

    @property
    def _bambu_reader(self) -> bool:
        """Bambu Studio and OrcaSlicer share one 3MF reader (bbs_3mf.cpp)."""
        return "bambu" in self.slicers or "orca" in self.slicers

    def extra_files(self, object_id: int, title: str, triangle_count: int) -> dict:
        """The settings parts, text by their name in the package."""
        from fabricate.export import bambu, prusaslicer

        files = {}
        if "prusa" in self.slicers:
            files["Metadata/Slic3r_PE.config"] = prusaslicer.slic3r_pe_config(self.settings, self.printer)
            files["Metadata/Slic3r_PE_model.config"] = prusaslicer.slic3r_pe_model_config(
                object_id, triangle_count, title)
        if self._bambu_reader:
            files["Metadata/project_settings.config"] = bambu.project_settings(self.settings, self.printer)
            files["Metadata/model_settings.config"] = bambu.model_settings(object_id, triangle_count, title)
        return files
