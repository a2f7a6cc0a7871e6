"""Every hub fabricate shares to, and how the neutral ModelPackage maps onto each: licence codes,
description format, tag limits, what the user must set up, whether it has drafts.

This is the one place those facts live: the adapters, the CLI's messages and the page's Share
dialog (through GET /api/hubs) all read them from here. Every rule was read at the source; see
HUBS.md in this folder for where each comes from. A package a hub cannot take (a licence it does
not offer) is refused here, before any request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from fabricate.errors import InputError
from fabricate.hub.package import LICENCE_NAMES, LICENCES, ModelPackage

#: Said wherever the hub has room for it: a photo-to-mesh tool's output must be disclosed as such.
AI_DISCLOSURE = ("AI-generated: this model was reconstructed from a photo by software (fabricate), "
                 "not modelled by hand.")


@dataclass(frozen=True)
class HubProfile:
    name: str
    title: str
    #: SPDX id -> the hub's own licence code, only for the licences the hub offers.
    licences: dict
    #: "api": uploaded through the hub's API, step by step in the share queue; "manual": no public upload
    #: API, so a package is prepared for the user to upload on ``upload_page``.
    kind: str = "api"
    #: What sharing there needs from the user, in plain words (shown before the page's Share form).
    needs: str = ""
    #: Where the hub's API answers (None: the user names it, as for their own hub).
    api_url: Optional[str] = None
    #: The page a prepared package is uploaded on (manual hubs).
    upload_page: Optional[str] = None
    #: Whether an upload stays a draft until published (``--publish`` / the page's publish box).
    drafts: bool = False
    #: "markdown" (the hub renders it) or "plain" (Markdown is turned into plain text).
    description_format: str = "markdown"
    max_title_length: Optional[int] = None
    max_description_length: Optional[int] = None
    max_tags: Optional[int] = None
    max_tag_length: Optional[int] = None
    #: Whether tags are slugs ("food-safe") rather than free words ("food safe").
    slug_tags: bool = False
    site_url: str = ""
    #: Whether the upload is the textured GLB (the hub's 3D viewer) rather than the 3MF.
    uploads_glb: bool = False

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

    def describe(self, configured: bool) -> dict:
        """What the page's Share dialog shows of this hub (GET /api/hubs); never a token."""
        return {"name": self.name, "title": self.title, "kind": self.kind, "configured": configured,
                "needs": self.needs, "drafts": self.drafts, "site_url": self.site_url,
                "licences": [{"id": spdx, "name": LICENCE_NAMES[spdx]} for spdx in self.licences],
                "max_tags": self.max_tags, "max_tag_length": self.max_tag_length, "slug_tags": self.slug_tags,
                "max_title_length": self.max_title_length}


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


#: Where the tokens of hubs with an API are kept, for the ``needs`` sentences.
_TOKEN_PLACES = ("set once on the machine running fabricate: as token in the [{name}] table of hub.toml in "
                 "fabricate's config folder (~/.config/fabricate/hub.toml), in the OS keyring (service fabricate, "
                 "user {name}), or in the FABRICATE_{upper}_TOKEN environment variable.")


def _token_places(name: str) -> str:
    return _TOKEN_PLACES.format(name=name, upper=name.upper())


#: Our own protocol (adapters.GenericAdapter): it takes the SPDX id itself and says "AI-generated" in a field.
GENERIC = HubProfile(
    name="generic", title="Your own hub", licences={spdx: spdx for spdx in LICENCES},
    needs="The address of your own hub and an access token for it, set once on the machine running fabricate: "
          "base_url and token at the top of hub.toml in fabricate's config folder "
          "(~/.config/fabricate/hub.toml), or the FABRICATE_HUB_URL and FABRICATE_HUB_TOKEN environment variables.")

THINGIVERSE = HubProfile(
    name="thingiverse", title="Thingiverse", site_url="https://www.thingiverse.com", drafts=True,
    api_url="https://api.thingiverse.com",
    needs="An app token from Thingiverse (register an app at thingiverse.com/developers), "
          + _token_places("thingiverse"),
    licences={"CC-BY-4.0": "cc", "CC-BY-SA-4.0": "cc-sa", "CC-BY-ND-4.0": "cc-nd", "CC-BY-NC-4.0": "cc-nc",
              "CC-BY-NC-SA-4.0": "cc-nc-sa", "CC0-1.0": "pd0", "GPL-3.0": "gpl"},
    description_format="markdown")

SKETCHFAB = HubProfile(
    name="sketchfab", title="Sketchfab", site_url="https://sketchfab.com", drafts=True, uploads_glb=True,
    api_url="https://api.sketchfab.com/v3",
    needs="Your Sketchfab API token (from your account's settings on sketchfab.com), " + _token_places("sketchfab")
          + " Sketchfab shows the coloured GLB in its 3D viewer.",
    licences={"CC-BY-4.0": "by", "CC-BY-SA-4.0": "by-sa", "CC-BY-ND-4.0": "by-nd", "CC-BY-NC-4.0": "by-nc",
              "CC-BY-NC-SA-4.0": "by-nc-sa", "CC0-1.0": "cc0"},
    description_format="plain", max_title_length=48, max_description_length=1024, max_tags=42,
    max_tag_length=48, slug_tags=True)


def _manual_needs(title: str, site: str) -> str:
    return (f"Nothing to set up: {title} has no public upload API, so fabricate prepares a package (the 3MF, the "
            f"preview and the details) for you to download here and upload on {site} yourself.")


# Hubs without an upload API: the user picks the licence on the hub's own page, so these lists only keep a
# package from naming one the hub does not have (HUBS.md says how sure each is).
PRINTABLES = HubProfile(
    name="printables", title="Printables", kind="manual", site_url="https://www.printables.com",
    upload_page="https://www.printables.com/model/upload", needs=_manual_needs("Printables", "printables.com"),
    licences={spdx: spdx for spdx in LICENCES if spdx != "MIT"})

MAKERWORLD = HubProfile(
    name="makerworld", title="MakerWorld", kind="manual", site_url="https://makerworld.com",
    upload_page="https://makerworld.com/en/my/models/upload", needs=_manual_needs("MakerWorld", "makerworld.com"),
    licences={spdx: spdx for spdx in LICENCES if spdx.startswith("CC")})

#: Every hub, in the order the CLI's help and the page's hub picker list them.
PROFILES = {profile.name: profile for profile in (GENERIC, PRINTABLES, MAKERWORLD, THINGIVERSE, SKETCHFAB)}


def profile_of(hub: str) -> HubProfile:
    """The profile of ``hub``, or an InputError naming the hubs there are."""
    if hub not in PROFILES:
        raise InputError(f"unknown hub {hub!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[hub]
