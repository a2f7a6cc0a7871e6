"""Stage 4: colours on the surface (per vertex and per face)."""
from fabricate.color.surface_colour import colour_surface, quantise_colours

__all__ = ["colour_surface", "quantise_colours"]
