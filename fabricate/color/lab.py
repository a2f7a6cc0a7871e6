"""sRGB <-> CIELAB (D65), where colour distances match perceived differences."""
from __future__ import annotations

import numpy as np

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 (or 0-255 float) sRGB to linear light in [0, 1], where shading multiplies colours."""
    c = np.asarray(rgb, np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light (clipped to [0, 1]) to uint8 sRGB."""
    linear = np.clip(np.asarray(linear, np.float64), 0, 1)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255), 0, 255).astype(np.uint8)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 sRGB to (n, 3) float64 L*a*b*."""
    return linear_to_lab(srgb_to_linear(rgb))


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """(n, 3) linear RGB in [0, 1] to (n, 3) L*a*b*."""
    xyz = np.asarray(linear, np.float64) @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """(n, 3) L*a*b* to (n, 3) uint8 sRGB (clipped to the gamut)."""
    lab = np.asarray(lab, np.float64)
    fy = (lab[:, 0] + 16) / 116
    f = np.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], axis=1)
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE
    return linear_to_srgb(xyz @ np.linalg.inv(_RGB_TO_XYZ).T)


def parse_hex_colours(text: str) -> np.ndarray:
    """'#ff0000,00ff00' -> (k, 3) uint8; raises ValueError naming a bad entry."""
    colours = []
    for item in (part.strip() for part in text.replace(";", ",").split(",")):
        if not item:
            continue
        digits = item.lstrip("#")
        if len(digits) == 3:
            digits = "".join(ch * 2 for ch in digits)
        if len(digits) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
            raise ValueError(f"{item!r} is not a hex colour like #FF8800")
        colours.append([int(digits[i:i + 2], 16) for i in (0, 2, 4)])
    if not colours:
        raise ValueError("the palette is empty")
    return np.array(colours, np.uint8)


def to_hex(rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(int(v) for v in rgb))
