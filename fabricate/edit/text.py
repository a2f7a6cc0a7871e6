"""Text on the model: glyph outlines of a shipped font, extruded and laid on the base or the back.

The font is DejaVu Sans Bold (fabricate/edit/fonts/DejaVuSans-Bold.ttf, Bitstream Vera licence
with DejaVu's changes in the public domain; the licence is fabricate/edit/fonts/LICENSE-DejaVu.txt),
read with fontTools and set with the font's own kerning pairs. Each glyph's quadratic outlines are
flattened to polygons, joined into one manifold3d CrossSection (non-zero winding, as TrueType fills),
extruded, bent onto the model's surface (every vertex moved to the surface height under it, found
by casting rays at the model) and unioned (emboss) or subtracted (engrave).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from fabricate.edit.operations import _mesh_of, _solid
from fabricate.errors import BadOption
from fabricate.mesh.coloured_mesh import ColouredMesh

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-Bold.ttf"
#: Straight segments per quadratic curve of a glyph (an "O" 8 mm tall is round to 0.01 mm).
CURVE_SEGMENTS = 8
#: Letters stand this far into the model (emboss) or open this far out of it (engrave), so the
#: boolean meets the surface in a volume, never in a touching face.
OVERLAP_MM = 0.4
#: The surface under the text is sampled this finely; the letters follow it to about that.
SURFACE_STEP_MM = 0.5
#: "automatic" letter height: this share of the face across the text, at most AUTO_MAX_MM.
AUTO_SHARE = 0.2
AUTO_MAX_MM = 12.0
#: A line of text may cover at most this share of the face's width.
MAX_WIDTH_SHARE = 0.85
#: Where the text goes: (the axis the face looks along, its outward sign, the reader's right, up).
#: The back is read from behind (its right is -x, up is up); the base from below with the back
#: of the model at the bottom of the view (up is -y), as when it is tipped backwards to look.
SIDES = {"back": (1, 1, np.array([-1.0, 0, 0]), np.array([0, 0, 1.0])),
         "base": (2, -1, np.array([1.0, 0, 0]), np.array([0, -1.0, 0]))}


@lru_cache(maxsize=1)
def _font():
    from fontTools.ttLib import TTFont

    return TTFont(str(FONT_PATH), lazy=True)


@lru_cache(maxsize=1)
def kerning() -> dict:
    """The font's kerning pairs, (left glyph, right glyph) -> font units (its 'kern' table; DejaVu
    Sans Bold has 1,538 pairs); empty for a font without one."""
    font = _font()
    if "kern" not in font:
        return {}
    pairs: dict = {}
    for table in font["kern"].kernTables:
        if getattr(table, "coverage", 1) & 1:  # horizontal kerning only
            pairs.update(table.kernTable)
    return pairs


def missing_characters(text: str) -> list:
    cmap = _font().getBestCmap()
    return sorted({c for c in text if c != " " and ord(c) not in cmap})


def text_outline(text: str, letter_height_mm: float):
    """The text's filled outline as a manifold3d CrossSection, capital height ``letter_height_mm``,
    its bottom-left at the origin (x to the right, y up)."""
    import manifold3d
    from fontTools.pens.basePen import BasePen

    font = _font()
    missing = missing_characters(text)
    if missing:
        raise BadOption(f"the font has no {' '.join(missing)!r}; text may use letters, digits and punctuation")
    # The capital height: OS/2 version 2 and later state it; DejaVu's older table does not, so
    # the top of its "H" is measured.
    cap = getattr(font["OS/2"], "sCapHeight", 0) or font["glyf"][font.getBestCmap()[ord("H")]].yMax
    scale = letter_height_mm / cap
    glyphs, cmap, metrics = font.getGlyphSet(), font.getBestCmap(), font["hmtx"]

    contours: list = []

    class Flatten(BasePen):
        def __init__(self, offset):
            super().__init__(glyphs)
            self.offset, self.points = offset, []

        def _moveTo(self, p):
            self.points = [p]

        def _lineTo(self, p):
            self.points.append(p)

        def _qCurveToOne(self, p1, p2):
            p0 = np.array(self.points[-1], float)
            t = np.linspace(0, 1, CURVE_SEGMENTS + 1)[1:, None]
            self.points += list((1 - t) ** 2 * p0 + 2 * (1 - t) * t * np.array(p1) + t ** 2 * np.array(p2))

        def _curveToOne(self, p1, p2, p3):
            p0 = np.array(self.points[-1], float)
            t = np.linspace(0, 1, CURVE_SEGMENTS + 1)[1:, None]
            self.points += list((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * np.array(p1)
                                + 3 * (1 - t) * t ** 2 * np.array(p2) + t ** 3 * np.array(p3))

        def _closePath(self):
            if len(self.points) >= 3:
                contours.append((np.array(self.points, float) + [self.offset, 0]) * scale)
            self.points = []

        _endPath = _closePath

    advance = 0.0
    names = [cmap.get(ord(character), cmap[ord(" ")]) for character in text]
    pairs = kerning()
    for index, name in enumerate(names):
        glyphs[name].draw(Flatten(advance))
        # The font's own spacing for this pair ("AV", "To" close up), as a typesetter sets it.
        advance += metrics[name][0] + (pairs.get((name, names[index + 1]), 0) if index + 1 < len(names) else 0)
    if not contours:
        raise BadOption("the text has no visible characters")
    return manifold3d.CrossSection(contours, manifold3d.FillRule.NonZero)


def _surface_heights(solid, centre, right, up, axis, outward, u, v):
    """The outermost surface's coordinate along ``axis`` under each (u, v) point of the face (NaN: no surface)."""
    lo, hi = (np.array(b) for b in (solid.bounding_box()[:3], solid.bounding_box()[3:]))
    far = float(np.max(hi - lo)) + 10.0
    normal = np.zeros(3)
    normal[axis] = outward
    heights = np.full((len(u), len(v)), np.nan)
    for i, a in enumerate(u):
        for j, b in enumerate(v):
            point = centre + a * right + b * up
            point[axis] = (hi[axis] if outward > 0 else lo[axis]) + 5.0 * outward
            hits = solid.ray_cast(list(point), list(point - far * normal))
            if hits:
                heights[i, j] = hits[0].position[axis]
    return heights


def place_text(mesh: ColouredMesh, text: str, side: str, mode: str, size_mm: float, depth_mm: float) -> ColouredMesh:
    """Emboss (raise by ``depth_mm``) or engrave (cut ``depth_mm`` deep) ``text`` on the model's ``side``."""
    import manifold3d
    from scipy.interpolate import RegularGridInterpolator

    axis, outward, right, up = SIDES[side]
    solid = _solid(mesh)
    lo, hi = mesh.bounds
    centre = (lo + hi) / 2
    span_right = float(np.abs(right) @ (hi - lo))
    span_up = float(np.abs(up) @ (hi - lo))
    letter = size_mm or min(AUTO_MAX_MM, AUTO_SHARE * span_up)
    outline = text_outline(text, letter)
    x0, y0, x1, y1 = outline.bounds()
    width = x1 - x0
    if not size_mm and width > MAX_WIDTH_SHARE * span_right:  # automatic: shrink to fit the width
        outline = outline.scale([MAX_WIDTH_SHARE * span_right / width] * 2)
        x0, y0, x1, y1 = outline.bounds()
    outline = outline.translate([-(x0 + x1) / 2, -(y0 + y1) / 2])
    x0, y0, x1, y1 = outline.bounds()
    u = np.arange(x0 - SURFACE_STEP_MM, x1 + 2 * SURFACE_STEP_MM, SURFACE_STEP_MM)
    v = np.arange(y0 - SURFACE_STEP_MM, y1 + 2 * SURFACE_STEP_MM, SURFACE_STEP_MM)
    heights = _surface_heights(solid, centre, right, up, axis, outward, u, v)
    if np.isnan(heights).any():
        raise BadOption(f"the text {text!r} ({x1 - x0:.0f} x {y1 - y0:.0f} mm) runs off the {side}; "
                        "ask for smaller letters or shorter text")
    surface = RegularGridInterpolator((u, v), heights)
    inner, outer = (-OVERLAP_MM, depth_mm) if mode == "emboss" else (-depth_mm, OVERLAP_MM)
    letters = manifold3d.Manifold.extrude(outline, outer - inner).translate([0, 0, inner])
    letters = letters.refine_to_length(SURFACE_STEP_MM)
    normal = np.zeros(3)
    normal[axis] = outward

    def onto_surface(points):
        points = np.asarray(points, np.float64)
        base = centre + points[:, :1] * right + points[:, 1:2] * up
        base[:, axis] = surface(points[:, :2])
        return base + points[:, 2:3] * normal

    # (right, up, outward) is a right-handed frame on both sides, so the letters keep facing out.
    letters = letters.warp_batch(onto_surface)
    if letters.status().name != "NoError":
        raise BadOption(f"the text could not be laid on the {side} ({letters.status().name})")
    result = solid + letters if mode == "emboss" else solid - letters
    return _mesh_of(result, mesh, solid)
