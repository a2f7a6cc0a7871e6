"""Declarative options: each field's name, type, default, allowed values, unit and help, stated once.

A group of options is a dataclass whose fields are made with :func:`option`. The
library validates values with :func:`check_options`; the CLI flags, the web API's
form model (and so its OpenAPI schema), the web page's form and the README's table
are generated from the same fields, so they cannot drift apart.

This module sits at the bottom of the tree: stages declare their own options with it
(a reconstruction model declares the options it uses).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from fabricate.errors import BadOption

#: Longest text any option accepts (titles, palettes, view lists).
MAX_TEXT = 200
#: A refused choice lists every allowed value up to this many, else suggests close ones.
MAX_LISTED_CHOICES = 10


@dataclass(frozen=True)
class Spec:
    """What one option is, beyond its Python type and default.

    Attributes
    ----------
    help : str
        One line for ``--help``, the form's hint and the README.
    label : str
        Short name for the web page.
    choices : tuple or callable, optional
        Allowed values, or a function returning them (lists known only at run time,
        like the installed models).
    unit : str, optional
        "mm", "%", "degrees", ... shown beside the value.
    minimum, maximum : float, optional
        Inclusive bounds of a number (``exclusive_minimum`` for "above zero").
    group : str
        The concern it belongs to (see :data:`GROUPS`).
    negative : str, optional
        For a yes/no option, the CLI flag that says no (``--support-anywhere``).
    short : str, optional
        A one-letter CLI flag (``-p``).
    default_text : str, optional
        How an unset (``None``) default is described ("largest that fits").
    """

    help: str
    label: str = ""
    choices: Union[tuple, Callable[[], tuple], None] = None
    unit: Optional[str] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_minimum: bool = False
    group: str = ""
    negative: Optional[str] = None
    default_text: Optional[str] = None
    max_length: int = MAX_TEXT
    short: Optional[str] = None

    def allowed(self) -> Optional[tuple]:
        return self.choices() if callable(self.choices) else self.choices


class WholeNumberOr:
    """An option kind: a whole number, or one of a few words naming a rule (``--colors auto``).

    Used as the field's annotation (``colors: COLOUR_COUNT``). The generated surfaces read
    it through three doors: called with text it converts a CLI flag (a whole number or the
    word, anything else a ValueError); Pydantic reads a form field through
    ``__get_pydantic_core_schema__`` (an integer or the word, so OpenAPI lists both); and
    :func:`check_value` checks the number's range like any other whole number.
    """

    def __init__(self, *words: str):
        self.words = tuple(words)
        self.__name__ = "whole number or " + " or ".join(words)

    def __call__(self, value):
        if isinstance(value, str):
            text = value.strip().lower()
            if text in self.words:
                return text
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{value!r} is neither a whole number nor {' nor '.join(self.words)}") from None
        return value

    def __get_pydantic_core_schema__(self, source, handler):
        from pydantic_core import core_schema

        return core_schema.union_schema([core_schema.int_schema(), core_schema.literal_schema(list(self.words))])

    def __repr__(self) -> str:
        return f"WholeNumberOr{self.words!r}"


def option(default: Any = dataclasses.MISSING, **spec) -> Any:
    """A dataclass field carrying its :class:`Spec`.

    Without ``default`` the option is required; an ``Optional[...]`` field whose
    default is ``None`` may be left unset.
    """
    return dataclasses.field(default=default, metadata={"spec": Spec(**spec)})


@dataclass(frozen=True)
class OptionField:
    """One option as the generators see it: name, base type, default, whether it may be unset or is required."""

    name: str
    kind: type
    default: Any
    optional: bool
    spec: Spec
    required: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def option_fields(cls) -> list:
    """The :class:`OptionField` of every field of the options dataclass ``cls``, in order."""
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        if "spec" not in f.metadata:
            continue
        kind, optional = _base_type(hints[f.name])
        required = f.default is dataclasses.MISSING
        fields.append(OptionField(f.name, kind, None if required else f.default, optional, f.metadata["spec"],
                                  required))
    return fields


def _base_type(hint) -> tuple:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is Union and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _is_control(character: str) -> bool:
    return ord(character) < 32 or 127 <= ord(character) < 160


def has_control_characters(text: str) -> bool:
    return any(map(_is_control, text))


def without_control_characters(text: str) -> str:
    """``text`` with control characters (invalid in XML and slicer configs) replaced by spaces."""
    return " ".join("".join(" " if _is_control(c) else c for c in text).split())


def check_value(field: OptionField, value: Any) -> Any:
    """``value`` converted to the field's type and checked; raises BadOption naming the field."""
    name = field.name.replace("_", " ")
    if value is None:
        if field.required or not field.optional:
            raise BadOption(f"{name} is required")
        return None
    spec = field.spec
    if field.kind is bool:
        if not isinstance(value, bool):
            raise BadOption(f"{name} must be true or false, got {value!r}")
    elif isinstance(field.kind, WholeNumberOr):
        if isinstance(value, str) and value.strip().lower() in field.kind.words:
            return value.strip().lower()
        if isinstance(value, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadOption(f"{name} must be a whole number or {' or '.join(field.kind.words)}, got {value!r}")
        value = _checked_number(name, spec, value, integer=True)
    elif field.kind in (int, float):
        value = _checked_number(name, spec, value, integer=field.kind is int)
    elif field.kind is str:
        if not isinstance(value, str):
            raise BadOption(f"{name} must be text, got {value!r}")
        if len(value) > spec.max_length:
            raise BadOption(f"{name} is longer than {spec.max_length} characters")
        if has_control_characters(value):
            raise BadOption(f"{name} must not contain control characters")
    allowed = spec.allowed()
    if allowed is not None and value not in allowed:
        if len(allowed) > MAX_LISTED_CHOICES:
            close = difflib.get_close_matches(str(value), list(map(str, allowed)), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"{len(allowed)} choices, see --help"
        else:
            hint = "choose one of " + ", ".join(map(str, allowed))
        raise BadOption(f"unknown {name} {value!r}; {hint}")
    return value


def _checked_number(name: str, spec: Spec, value: Any, integer: bool):
    """``value`` as a finite int (``integer``) or float inside the spec's range; raises BadOption."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadOption(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise BadOption(f"{name} must be a finite number, got {value!r}")
    if integer:
        if value != int(value):
            raise BadOption(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.minimum is not None and (value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum):
        relation = "above" if spec.exclusive_minimum else "at least"
        raise BadOption(f"{name} must be {relation} {spec.minimum:g}{unit}, got {value:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise BadOption(f"{name} must be at most {spec.maximum:g}{unit}, got {value:g}")
    return value


def check_options(instance) -> None:
    """Check (and normalise in place) every option field of a dataclass instance."""
    for field in option_fields(type(instance)):
        object.__setattr__(instance, field.name, check_value(field, getattr(instance, field.name)))


def build_options(cls, values: dict, owner: str):
    """An instance of options class ``cls`` from ``values``, refusing names it does not have.

    ``owner`` names whose options these are, for the message ("the neural model").
    """
    known = {f.name for f in option_fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        flags = ", ".join("--" + n.replace("_", "-") for n in unknown)
        takes = ", ".join("--" + n.replace("_", "-") for n in sorted(known)) or "no options"
        raise BadOption(f"{owner} does not use {flags} (it takes {takes})")
    instance = cls(**values)
    check_options(instance)
    return instance
