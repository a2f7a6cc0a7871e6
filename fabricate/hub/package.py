"""The neutral package every hub adapter uploads: files plus metadata."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fabricate.errors import InputError

#: Licences offered (SPDX-style ids) with what each lets others do, in words; profiles.py maps them to
#: each hub's own codes.
LICENCE_NAMES = {"CC-BY-4.0": "CC BY 4.0 (credit me)",
                 "CC-BY-SA-4.0": "CC BY-SA 4.0 (credit, share alike)",
                 "CC-BY-NC-4.0": "CC BY-NC 4.0 (credit, non-commercial)",
                 "CC-BY-NC-SA-4.0": "CC BY-NC-SA 4.0 (credit, non-commercial, share alike)",
                 "CC-BY-ND-4.0": "CC BY-ND 4.0 (credit, no changes)",
                 "CC0-1.0": "CC0 (public domain)",
                 "MIT": "MIT",
                 "GPL-3.0": "GPL 3.0"}
LICENCES = tuple(LICENCE_NAMES)


@dataclass
class ModelPackage:
    """A model ready to share.

    ``ai_generated`` is always disclosed: the mesh was reconstructed from a photo by software.
    """

    title: str
    model_path: Path
    preview_path: Optional[Path] = None
    description: str = ""
    licence: str = "CC-BY-4.0"
    tags: list = field(default_factory=list)
    printer: Optional[str] = None
    source_photo: Optional[str] = None
    ai_generated: bool = True
    #: Further rendered pictures, after the cover (``preview_path``).
    images: list = field(default_factory=list)
    #: Slicer settings worth telling a maker ({"layer height": "0.2 mm", ...}), shown with the printer.
    print_settings: dict = field(default_factory=dict)
    #: The hub's category name, where it has categories (Thingiverse).
    category: Optional[str] = None
    #: The textured GLB beside the 3MF, for hubs that show models in a 3D viewer (Sketchfab).
    glb_path: Optional[Path] = None

    def pictures(self) -> list:
        """Every picture to upload, the cover first."""
        return [Path(p) for p in [self.preview_path, *self.images] if p and Path(p).is_file()]

    def to_record(self) -> dict:
        """Everything a share needs to run again after a restart (paths, not bytes; never a token)."""
        return {"title": self.title, "model_path": str(self.model_path),
                "preview_path": str(self.preview_path) if self.preview_path else None,
                "description": self.description, "licence": self.licence, "tags": list(self.tags),
                "printer": self.printer, "source_photo": self.source_photo, "ai_generated": self.ai_generated,
                "images": [str(p) for p in self.images], "print_settings": dict(self.print_settings),
                "category": self.category, "glb_path": str(self.glb_path) if self.glb_path else None}

    def validate(self) -> None:
        if not self.title.strip():
            raise InputError("a title is needed to share a model")
        if len(self.title) > 200:
            raise InputError("the title is longer than 200 characters")
        if self.licence not in LICENCES:
            raise InputError(f"unknown licence {self.licence!r}; choose one of {', '.join(LICENCES)}")
        if not Path(self.model_path).is_file():
            raise InputError(f"model file not found: {self.model_path}")
        bad = [t for t in self.tags if not re.fullmatch(r"[\w\- ]{1,40}", t)]
        if bad:
            raise InputError(f"tags may hold letters, digits, spaces and dashes (at most 40): {bad[0]!r}")

    def metadata(self) -> dict:
        from fabricate import __version__

        return {"title": self.title, "description": self.description, "licence": self.licence,
                "tags": list(self.tags), "printer": self.printer, "source_photo": self.source_photo,
                "ai_generated": self.ai_generated, "generator": f"fabricate {__version__}"}
