// Colour names for filaments: the nearest of a small table of common filament colours, measured in
// CIELAB (D65), so "#A8B3BC" reads as "light grey" rather than a hex code. The one place the page names colours.

/** Common filament colours as sold (names in plain words) and an sRGB value typical of each. */
export const NAMED_COLOURS = [
  ["white", "#FFFFFF"], ["ivory", "#F3EBD3"], ["beige", "#D8C3A0"], ["light grey", "#B4B8BC"],
  ["grey", "#80868C"], ["dark grey", "#4A4E54"], ["black", "#1A1A1A"], ["silver", "#C8CCD0"],
  ["red", "#C81E1E"], ["dark red", "#7A1418"], ["pink", "#F08CB4"], ["magenta", "#D0208C"],
  ["orange", "#F07814"], ["peach", "#F4B488"], ["yellow", "#F5D20F"], ["gold", "#C8A03C"],
  ["brown", "#7A4A26"], ["dark brown", "#4A2C18"], ["tan", "#B48A5A"], ["olive", "#78782A"],
  ["lime", "#9AD23C"], ["green", "#2EA04A"], ["dark green", "#1E5A32"], ["mint", "#9EDCBE"],
  ["teal", "#168C8C"], ["cyan", "#2EC4E0"], ["light blue", "#8CC0EC"], ["blue", "#1E5AC8"],
  ["navy", "#1C2A5A"], ["purple", "#6A2C9A"], ["lavender", "#B4A0DC"], ["maroon", "#5A1A2A"],
];

const HEX = /^#?([0-9a-f]{6})$/i;

/** "#RRGGBB" -> [r, g, b] 0-255, or null. */
export function parseHex(text) {
  const m = HEX.exec(String(text || "").trim().slice(0, 7));
  if (!m) return null;
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** sRGB (0-255) to CIELAB, D65 white (the same conversion as fabricate.color.lab). */
export function srgbToLab([r, g, b]) {
  const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const y = 0.2126729 * R + 0.7151522 * G + 0.0721750 * B;
  const z = (0.0193339 * R + 0.1191920 * G + 0.9503041 * B) / 1.08883;
  const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const [fx, fy, fz] = [f(x), f(y), f(z)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

const TABLE = NAMED_COLOURS.map(([name, hex]) => ({ name, lab: srgbToLab(parseHex(hex)) }));

/** The name of the table colour nearest to `hex` (CIE76 distance), or "" for a value that is no colour. */
export function colourName(hex) {
  const rgb = parseHex(hex);
  if (!rgb) return "";
  const lab = srgbToLab(rgb);
  let best = null;
  let bestDistance = Infinity;
  for (const entry of TABLE) {
    const d = (entry.lab[0] - lab[0]) ** 2 + (entry.lab[1] - lab[1]) ** 2 + (entry.lab[2] - lab[2]) ** 2;
    if (d < bestDistance) { bestDistance = d; best = entry; }
  }
  return best.name;
}
