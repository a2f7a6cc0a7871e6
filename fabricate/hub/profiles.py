"""How the neutral ModelPackage maps onto each hub: licence codes, description format, tag limits.

Every rule here was read at the source; see HUBS.md in this folder for where each comes from.
A package a hub cannot take (a licence it does not offer) is refused here, before any request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from fabricate.errors import InputError
from fabricate.hub.package import ModelPackage

#: Said wherever the hub has room for it: a photo-to-mesh tool's output must be disclosed as such.
AI_DISCLOSURE = ("AI-generated: this model was reconstructed from a photo by software (fabricate), "
                 "not modelled by hand.")


@dataclass(frozen=True)
class HubProfile:
    name: str
    title: str
    #: SPDX id -> the hub's own licence code, only for the licences the hub offers.
    licences: dict
    #: "markdown" (the hub renders it) or "plain" (Markdown is turned into plain text).
    description_format: str = "markdown"
    max_title_length: Optional[int] = None
    max_description_length: Optional[int] = None
    max_tags: Optional[int] = None
    max_tag_length: Optional[int] = None
    #: Whether tags are slugs ("food-safe") rather than free words ("food safe").
    slug_tags: bool = False
    site_url: str = ""

    def licence_code(self, spdx: str) -> str:
        """The hub's code for ``spdx``, or an InputError naming the licences the hub does offer."""
        if spdx not in self.licences:
            raise InputError(f"{self.title} does not offer the licence {spdx}; it offers "
                             f"{', '.join(self.licences)}")
        return self.licences[spdx]

    def title_for(self, package: ModelPackage) -> str:
        return _shorten(package.title.strip(), self.max_title_length)

    def tags_for(self, package: ModelPackage) -> list:
        """The package's tags in the hub's form, without repeats, within its count and length limits."""
        tags = []
        for tag in package.tags:
            tag = tag.strip()
            if self.slug_tags:
                tag = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
            if self.max_tag_length:
                tag = tag[:self.max_tag_length]
            if tag and tag not in tags:
                tags.append(tag)
        return tags[:self.max_tags] if self.max_tags else tags

    def description_for(self, package: ModelPackage) -> str:
        """The description in the hub's format: the disclosure first, the maker's text, then how to print it."""
        parts = [f"> {AI_DISCLOSURE}"] if package.ai_generated else []
        if package.description.strip():
            parts.append(package.description.strip())
        settings = print_settings_markdown(package)
        if settings:
            parts.append(settings)
        text = "\n\n".join(parts)
        if self.description_format == "plain":
            text = markdown_to_plain(text)
        return _shorten(text, self.max_description_length)

    def check(self, package: ModelPackage) -> None:
        """Everything refused before any request: the package's own rules, then this hub's."""
        package.validate()
        self.licence_code(package.licence)


def print_settings_markdown(package: ModelPackage) -> str:
    """The printer and print settings as a Markdown section ('' when there are none)."""
    lines = [f"- Printer: {package.printer}"] if package.printer else []
    lines += [f"- {name}: {value}" for name, value in package.print_settings.items()]
    return "## Print settings\n\n" + "\n".join(lines) if lines else ""


def markdown_to_plain(text: str) -> str:
    """Markdown as plain text: headings, quotes, emphasis and code marks dropped; links as 'text (url)'."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.M)
    text = re.sub(r"^\s{0,3}>\s?", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return text


def _shorten(text: str, limit: Optional[int]) -> str:
    return text if not limit or len(text) <= limit else text[:limit - 1].rstrip() + "…"


THINGIVERSE = HubProfile(
    name="thingiverse", title="Thingiverse", site_url="https://www.thingiverse.com",
    licences={"CC-BY-4.0": "cc", "CC-BY-SA-4.0": "cc-sa", "CC-BY-ND-4.0": "cc-nd", "CC-BY-NC-4.0": "cc-nc",
              "CC-BY-NC-SA-4.0": "cc-nc-sa", "CC0-1.0": "pd0", "GPL-3.0": "gpl"},
    description_format="markdown")

SKETCHFAB = HubProfile(
    name="sketchfab", title="Sketchfab", site_url="https://sketchfab.com",
    licences={"CC-BY-4.0": "by", "CC-BY-SA-4.0": "by-sa", "CC-BY-ND-4.0": "by-nd", "CC-BY-NC-4.0": "by-nc",
              "CC-BY-NC-SA-4.0": "by-nc-sa", "CC0-1.0": "cc0"},
    description_format="plain", max_title_length=48, max_description_length=1024, max_tags=42,
    max_tag_length=48, slug_tags=True)

PROFILES = {profile.name: profile for profile in (THINGIVERSE, SKETCHFAB)}
