"""Plain English -> checked edit operations, deterministically and offline.

An instruction is split into clauses ("make it taller and flatten the base"); each clause
must match one rule of :data:`RULES` or nothing runs and the answer lists what works. Numbers
take units (mm, cm, inches) and percentages; words for amounts ("a bit", "much") are
defined once in :data:`AMOUNTS`; colours are names from :data:`COLOUR_NAMES` or hex.
When ``FABRICATE_LLM_URL`` is set, the instruction goes to that language model instead
(fabricate/edit/llm.py), whose answer is checked against the same operation table.
"""
from __future__ import annotations

import contextvars
import os
import re
from typing import Callable

from fabricate.edit.operations import KEYRING_HOLE_MM, capabilities, checked_operation
from fabricate.errors import BadOption

#: What words for an amount mean, as a share of the current size (one place for the whole parser).
AMOUNTS = {"a tiny bit": 0.05, "a little": 0.1, "a bit": 0.1, "slightly": 0.1, "somewhat": 0.2, "": 0.2,
           "quite a bit": 0.3, "much": 0.5, "a lot": 0.5, "way": 0.5, "far": 0.5}
#: Smoothing passes per share of AMOUNTS: "a bit" = 5, plain "smooth it" = 10, "much" = 25.
SMOOTH_PASSES_PER_SHARE = 50
#: Text in double (or curly) quotes is kept exactly, capitals included; the rest is read in lower case.
QUOTED = re.compile(r'"([^"]*)"|\u201c([^\u201d]*)\u201d')
#: Millimetres per unit.
UNITS = {"mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "millimeters": 1.0, "millimetres": 1.0,
         "cm": 10.0, "centimeter": 10.0, "centimetre": 10.0, "centimeters": 10.0, "centimetres": 10.0,
         "in": 25.4, "inch": 25.4, "inches": 25.4, '"': 25.4}
#: Colour names a maker is likely to say, by their usual filament colour.
COLOUR_NAMES = {
    "white": "#FFFFFF", "black": "#000000", "grey": "#808080", "gray": "#808080", "silver": "#C0C0C0",
    "red": "#D02020", "dark red": "#8B0000", "orange": "#FF8000", "yellow": "#FFD700", "gold": "#D4AF37",
    "green": "#20A040", "dark green": "#006400", "lime": "#80FF00", "blue": "#2040D0", "dark blue": "#00008B",
    "light blue": "#80C0FF", "navy": "#000080", "cyan": "#00FFFF", "teal": "#008080", "purple": "#800080",
    "violet": "#8F00FF", "pink": "#FF80C0", "magenta": "#FF00FF", "brown": "#7B4A20", "dark brown": "#3B2314",
    "beige": "#E8D8B0", "tan": "#D2B48C", "cream": "#FFFDD0", "ivory": "#FFFFF0",
}
#: Verbs that start a new clause after "and" ("taller and wider" stays one clause).
VERBS = ("make", "add", "put", "flatten", "cut", "scale", "resize", "stretch", "squash", "paint", "colour", "color",
         "recolour", "recolor", "change", "turn", "merge", "mirror", "flip", "rotate", "lay", "drill", "punch",
         "simplify", "reduce", "decimate", "give", "set", "double", "halve", "enlarge", "shrink", "replace",
         "stand", "mount", "smooth", "thicken", "hollow", "emboss", "engrave", "write", "carve")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "twenty": 20, "fifty": 50, "hundred": 100}
FACTOR_WORDS = {"twice": 2.0, "double": 2.0, "three times": 3.0, "triple": 3.0, "half": 0.5, "a third": 1 / 3,
                "a quarter": 0.25}
DIMENSION_WORDS = {
    "taller": ("height", 1), "higher": ("height", 1), "shorter": ("height", -1), "lower": ("height", -1),
    "wider": ("width", 1), "broader": ("width", 1), "narrower": ("width", -1), "slimmer": ("width", -1),
    "thinner": ("width", -1), "skinnier": ("width", -1), "deeper": ("depth", 1), "shallower": ("depth", -1),
    "longer": ("width", 1), "thicker": ("depth", 1),
}
SIZE_WORDS = {"tall": "height", "high": "height", "height": "height", "wide": "width", "width": "width",
              "long": "width", "length": "width", "deep": "depth", "depth": "depth", "thick": "depth"}

_NUMBER = r"(\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")"
_UNIT = r"\s*(" + "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True)) + r")\b"
_AMOUNT = r"(" + "|".join(sorted((re.escape(a) for a in AMOUNTS if a), key=len, reverse=True)) + r")?\s*"
_COLOUR = r"(#[0-9a-f]{6}|#[0-9a-f]{3}\b|" + "|".join(sorted(map(re.escape, COLOUR_NAMES), key=len, reverse=True)) + r")"
_SOURCE = r"(?:(?:the\s+)?(?:filament|colou?r|extruder)\s+(\d{1,2})|(?:the\s+)?" + _COLOUR + r")"
_IT = r"(?:\s+(?:it|the model|the whole thing|everything|the whole model|this))?"


def _number(text: str) -> float:
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)


def _mm(number: str, unit: str) -> float:
    return _number(number) * UNITS[unit]


def _hex(colour: str) -> str:
    if colour in COLOUR_NAMES:
        return COLOUR_NAMES[colour]
    digits = colour.lstrip("#")
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).upper()


def _source(filament, colour) -> str:
    return str(int(filament)) if filament else _hex(colour)


def _share(amount: str, number=None) -> float:
    """A relative change: a number of percent, else the amount's words."""
    if number is not None:
        return _number(number) / 100.0
    return AMOUNTS[(amount or "").strip()]


# Each rule: a pattern over one normalised clause and the operation its match makes.
RULES: list = []


def rule(pattern: str):
    def register(build: Callable):
        RULES.append((re.compile(r"^(?:please\s+)?(?:can you\s+|could you\s+)?" + pattern + r"(?:\s+please)?$"),
                      build))
        return build
    return register


@rule(r"(?:make|paint|colou?r|turn)" + _IT + r"(?:\s+all)?\s+(?:in\s+)?" + _COLOUR)
def _all_colour(m):
    return [("recolour", {"source": "all", "colour": _hex(m[1])})]


@rule(r"(?:make|paint|colou?r|recolou?r|turn|change)\s+" + _SOURCE +
      r"(?:\s+(?:parts?|bits?|areas?|regions?))?\s+(?:to\s+|into\s+|in\s+)?" + _COLOUR)
def _recolour(m):
    return [("recolour", {"source": _source(m[1], m[2]), "colour": _hex(m[3])})]


@rule(r"replace\s+" + _SOURCE + r"\s+with\s+" + _COLOUR)
def _replace_colour(m):
    return [("recolour", {"source": _source(m[1], m[2]), "colour": _hex(m[3])})]


@rule(r"merge\s+" + _SOURCE + r"(?:\s+(?:parts?|colou?rs?))?\s+(?:and|with|into)\s+" + _SOURCE +
      r"(?:\s+(?:parts?|colou?rs?))?")
def _merge(m):
    return [("merge_colours", {"source": _source(m[1], m[2]), "into": _source(m[3], m[4])})]


@rule(r"(?:make|scale|resize)" + _IT + r"\s+(?:to\s+)?" + _NUMBER + _UNIT + r"\s+(tall|high|wide|long|deep|thick)")
def _resize(m):
    return [("resize", {"dimension": SIZE_WORDS[m[3]], "size_mm": _mm(m[1], m[2])})]


@rule(r"(?:set\s+)?(?:the\s+)?(height|width|length|depth)\s+(?:to\s+|of\s+|=\s*|is\s+)?" + _NUMBER + _UNIT)
def _set_size(m):
    return [("resize", {"dimension": SIZE_WORDS[m[1]], "size_mm": _mm(m[2], m[3])})]


@rule(r"(?:scale|resize|make)" + _IT + r"\s+(?:to\s+)?" + r"(\d+(?:\.\d+)?)\s*(?:%|percent)(?:\s+(?:of\s+)?"
      r"(?:the\s+|its\s+)?(?:original\s+|current\s+)?size)?")
def _scale_to_percent(m):
    return [("scale", {"factor": float(m[1]) / 100})]


@rule(r"(?:scale|enlarge|grow)" + _IT + r"\s+(?:by\s+)?(?:a\s+factor\s+(?:of\s+)?)?(\d+(?:\.\d+)?)\s*(?:x|times)?")
def _scale_by(m):
    return [("scale", {"factor": float(m[1])})]


@rule(r"(?:make" + _IT + r"\s+)?(twice|three times|half)\s+(?:as\s+)?(?:big|large|the size|as big|as large)")
def _factor_words(m):
    return [("scale", {"factor": FACTOR_WORDS[m[1]]})]


@rule(r"(double|halve|triple)\s+(?:the\s+|its\s+)?size")
def _double(m):
    return [("scale", {"factor": {"double": 2.0, "halve": 0.5, "triple": 3.0}[m[1]]})]


@rule(r"(?:make|scale)" + _IT + r"\s+(?:(\d+(?:\.\d+)?)\s*(?:%|percent)\s+|" + _AMOUNT + r")"
      r"(bigger|larger|smaller|tinier)")
def _relative_scale(m):
    share = _share(m[2], m[1])
    return [("scale", {"factor": 1 + share if m[3] in ("bigger", "larger") else 1 - share})]


@rule(r"(enlarge|shrink)" + _IT + r"(?:\s+by\s+(\d+(?:\.\d+)?)\s*(?:%|percent))?")
def _enlarge(m):
    share = _share("", m[2])
    return [("scale", {"factor": 1 + share if m[1] == "enlarge" else 1 - share})]


@rule(r"(?:(\d+(?:\.\d+)?)\s*x\s+)(bigger|larger)")
def _times_bigger(m):
    return [("scale", {"factor": float(m[1])})]


@rule(r"make" + _IT + r"\s+(?:(\d+(?:\.\d+)?)\s*(%|percent|" + "|".join(map(re.escape, UNITS)) + r")\s+|"
      + _AMOUNT + r")(" + "|".join(DIMENSION_WORDS) + r")")
def _proportion(m):
    dimension, sign = DIMENSION_WORDS[m[4]]
    if m[2] in UNITS:
        return [("stretch", {"dimension": dimension, "by_mm": sign * _mm(m[1], m[2])})]
    return [("stretch", {"dimension": dimension, "factor": 1 + sign * _share(m[3], m[1])})]


@rule(r"(stretch|squash|compress)" + _IT + r"\s+(vertically|horizontally|sideways|front to back)"
      r"(?:\s+by\s+(\d+(?:\.\d+)?)\s*(?:%|percent))?")
def _stretch(m):
    dimension = {"vertically": "height", "horizontally": "width", "sideways": "width", "front to back": "depth"}[m[2]]
    share = _share("", m[3])
    return [("stretch", {"dimension": dimension, "factor": 1 + share if m[1] == "stretch" else 1 - share})]


_FLAT = r"(?:flatten|make flat|level)\s+(?:the\s+|its\s+)?(?:base|bottom)|(?:make|give)\s+(?:it\s+)?(?:a\s+|the\s+)?" \
        r"(?:base|bottom)\s+flat|(?:make|give)\s+(?:it\s+)?(?:a\s+)?flat\s+(?:base|bottom)|flat\s+(?:base|bottom)"


@rule(r"(?:" + _FLAT + r")(?:\s+(?:by|cutting|with a cut of)\s+" + _NUMBER + _UNIT + r")?")
def _flatten(m):
    return [("flatten_base", {"cut_mm": _mm(m[1], m[2])} if m[1] else {})]


@rule(r"cut\s+(?:off\s+)?" + _NUMBER + _UNIT + r"\s+(?:off\s+)?(?:from\s+)?(?:the\s+)?(?:base|bottom)")
def _cut(m):
    return [("flatten_base", {"cut_mm": _mm(m[1], m[2])})]


_PLINTH_NOUN = r"(?:plinth|pedestal|stand|base|platform|disc|disk|box)"


@rule(r"(?:add|put|give|mount|stand)" + _IT + r"(?:\s+(?:on|onto|it))?\s+(?:a\s+|an\s+)?(?:(\d+(?:\.\d+)?)\s*"
      + _UNIT[3:] + r"\s+)?(?:(thick|tall|high)\s+)?(?:" + _COLOUR + r"\s+)?(round|circular|disc|square|rectangular|box)?"
      r"\s*" + _PLINTH_NOUN + r"(?:\s+(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+(?:thick|tall|high))?"
      r"(?:\s+with\s+(?:a\s+)?(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+margin)?")
def _plinth(m):
    params = {}
    if m[1]:
        params["height_mm"] = _mm(m[1], m[2])
    if m[6]:
        params["height_mm"] = _mm(m[6], m[7])
    if m[8]:
        params["margin_mm"] = _mm(m[8], m[9])
    if m[4]:
        params["colour"] = _hex(m[4])
    if m[5] in ("square", "rectangular", "box"):
        params["shape"] = "box"
    return [("plinth", params)]


@rule(r"(?:mirror|flip)" + _IT + r"(?:\s+(left to right|right to left|horizontally|sideways|front to back|"
      r"back to front|vertically|upside down|top to bottom))?")
def _mirror(m):
    dimension = {"front to back": "depth", "back to front": "depth", "vertically": "height", "upside down": "height",
                 "top to bottom": "height"}.get(m[1] or "", "width")
    return [("mirror", {"dimension": dimension})]


@rule(r"(?:rotate|turn|spin)" + _IT + r"\s+(?:by\s+)?(-?\d+(?:\.\d+)?)\s*(?:degrees|deg|°)"
      r"(?:\s+(clockwise|counterclockwise|anticlockwise|counter-clockwise))?"
      r"(?:\s+(?:about|around)\s+(?:the\s+)?(height|width|depth|x|y|z|vertical)(?:\s+axis)?)?")
def _rotate(m):
    degrees = float(m[1]) * (-1 if m[2] == "clockwise" else 1)
    dimension = {"x": "width", "y": "depth", "z": "height", "vertical": "height"}.get(m[3] or "", m[3] or "height")
    return [("rotate", {"degrees": degrees, "dimension": dimension})]


@rule(r"(?:turn|put|stand)" + _IT + r"\s+upside down")
def _upside_down(m):
    return [("rotate", {"degrees": 180.0, "dimension": "width"})]


@rule(r"(?:lay|lie|rest|put)" + _IT + r"\s+(?:flat|down|on its side|on its most stable side)")
def _lay_flat(m):
    return [("lay_flat", {})]


@rule(r"(?:add|drill|punch|make|cut)\s+(?:a\s+|an\s+)?(?:(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+)?"
      r"(?:(vertical|horizontal|sideways)\s+)?(?:through[- ])?(keyring|key ring|keychain|lanyard)?\s*"
      r"(?:hole|loop)(?:\s+(?:of|with a diameter of|with diameter)\s+(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r")?"
      r"(?:\s+(?:diameter|wide))?(?:\s+(?:for\s+a\s+keyring|right through|through\s+(?:it|the\s+(?:middle|centre|center|top))"
      r"|at the top|in the (?:middle|centre|center)|through))*")
def _hole(m):
    params = {}
    if m[1]:
        params["diameter_mm"] = _mm(m[1], m[2])
    if m[5]:
        params["diameter_mm"] = _mm(m[5], m[6])
    clause = m[0]
    if m[3] == "vertical":
        params.update(dimension="height", position="centre")
    elif m[3] == "sideways":
        params["dimension"] = "width"
    if not m[4] and m[3] != "vertical" and re.search(r"middle|centre|center", clause):
        params["position"] = "centre"
    if m[4] and "diameter_mm" not in params:
        params["diameter_mm"] = KEYRING_HOLE_MM
    return [("hole", params)]


@rule(r"(?:simplify|reduce|decimate)" + _IT + r"(?:\s+(?:to|down to))?\s+(\d[\d,]*(?:\.\d+)?)\s*(k)?\s*"
      r"(?:triangles|faces|polygons|tris)")
def _simplify(m):
    count = float(m[1].replace(",", "")) * (1000 if m[2] else 1)
    return [("simplify", {"triangles": int(round(count))})]


@rule(r"(?:smooth(?:\s+out)?|soften)" + _IT + r"(?:\s+out)?\s*" + _AMOUNT +
      r"|make" + _IT + r"\s+" + _AMOUNT + r"smoother")
def _smooth(m):
    amount = m[1] if m[1] is not None else m[2]
    return [("smooth", {"passes": max(1, round(_share(amount) * SMOOTH_PASSES_PER_SHARE))})]


@rule(r"(?:thicken|make|set)\s+(?:all\s+)?(?:the\s+)?(?:thin\s+)?(?:walls?|parts?)(?:\s+thicker)?"
      r"(?:\s+to)?(?:\s+(?:at\s+least|a\s+minimum\s+of|min(?:imum)?))?(?:\s+" + _NUMBER + _UNIT + r")?(?:\s+thick)?"
      r"|(?:minimum|min)\s+wall(?:\s+thickness)?\s+(?:of\s+)?" + _NUMBER + _UNIT)
def _thicken(m):
    number, unit = (m[1], m[2]) if m[1] else (m[3], m[4])
    return [("thicken", {"min_wall_mm": _mm(number, unit)} if number else {})]


_DRAINS = r"(?:\s+(?:and|with)\s+(?:(a|one|two|1|2)\s+)?(?:(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+)?drain(?:age)?\s+holes?)?"


@rule(r"(?:make" + _IT + r"\s+hollow|hollow" + _IT + r"(?:\s+out)?)(?:\s+with\s+(?:a\s+)?" + _NUMBER + _UNIT +
      r"(?:\s+thick)?\s+(?:walls?|shell))?" + _DRAINS)
def _hollow(m):
    params = {}
    if m[1]:
        params["wall_mm"] = _mm(m[1], m[2])
    if m[3]:
        params["drains"] = {"a": 1, "one": 1, "1": 1, "two": 2, "2": 2}[m[3]]
    if m[4]:
        params["drain_mm"] = _mm(m[4], m[5])
    return [("hollow", params)]


#: The current instruction's quoted texts, for the text rule (set by parse_builtin).
_QUOTED_TEXTS = contextvars.ContextVar("quoted_texts", default=())
_WORD = r"(?!(?:on|onto|into|in|under|to)\b)[a-z0-9]+"
_TEXT = r'(?:"(\d+)"|(' + _WORD + r"(?: " + _WORD + r"){0,3}))"


@rule(r"(emboss|engrave|carve|write|add|put|cut)\s+(?:the\s+)?(?:(?:raised|engraved)\s+)?(?:text|name|word|words|letters)?\s*"
      + _TEXT + r"(?:\s+(?:on|onto|into|in|under|to)\s+(?:the\s+|its\s+)?(base|bottom|underside|back|rear))?"
      r"(?:\s+(?:in\s+)?(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+(?:letters|high|tall))?"
      r"(?:\s+(\d+(?:\.\d+)?)\s*" + _UNIT[3:] + r"\s+deep)?")
def _text(m):
    if m[2] is None and m[1] in ("add", "put", "write"):
        return None  # an unquoted "add ..." is some other edit's words, not text to write
    words = _QUOTED_TEXTS.get()[int(m[2])] if m[2] is not None else m[3]
    params = {"text": words, "mode": "engrave" if m[1] in ("engrave", "carve", "cut") else "emboss"}
    if m[4]:
        params["side"] = "back" if m[4] in ("back", "rear") else "base"
    if m[5]:
        params["size_mm"] = _mm(m[5], m[6])
    if m[7]:
        params["depth_mm"] = _mm(m[7], m[8])
    return [("text", params)]


def split_clauses(text: str) -> list:
    """One clause per operation: split at commas (not in 20,000), semicolons, "then", and "and" before a verb."""
    text = re.sub(r"\s+", " ", text.strip().lower().replace("’", "'"))
    text = text.rstrip(".!")
    verbs = "|".join(VERBS)
    parts = re.split(r"\s*(?:(?:,(?!\d)|;)\s*(?:and\s+|then\s+)?|\.\s+|\s+then\s+|\s+and\s+(?:then\s+)?(?=(?:" + verbs +
                     r")\b))\s*", text)
    return [p.strip() for p in parts if p and p.strip()]


def parse_builtin(text: str) -> list:
    """The built-in parser: every clause must match a rule, else BadOption listing what works."""
    operations, unknown = [], []
    quoted = []

    def hold(match):
        quoted.append(match[1] if match[1] is not None else match[2])
        return f'"{len(quoted) - 1}"'

    clauses = split_clauses(QUOTED.sub(hold, text))
    token = _QUOTED_TEXTS.set(tuple(quoted))
    try:
        for clause in clauses:
            for pattern, build in RULES:
                match = pattern.match(clause)
                built = build(match) if match else None
                if built is not None:
                    operations += [checked_operation(name, params) for name, params in built]
                    break
            else:
                unknown.append(clause)
    finally:
        _QUOTED_TEXTS.reset(token)
    if unknown or not clauses:
        said = "; ".join(f'"{c}"' for c in unknown) or '""'
        raise BadOption(f"not understood: {said}. Edits that work: {capabilities()}")
    return operations


def parse_instructions(text: str) -> list:
    """Checked operations for ``text``: a configured language model's answer, else the built-in parser's."""
    if not isinstance(text, str) or not text.strip():
        raise BadOption(f"no instruction given. Edits that work: {capabilities()}")
    url = os.environ.get("FABRICATE_LLM_URL")
    if url:
        from fabricate.edit.llm import parse_with_llm

        return parse_with_llm(text, url)
    return parse_builtin(text)


__all__ = ["parse_instructions", "parse_builtin", "split_clauses", "AMOUNTS", "COLOUR_NAMES"]
