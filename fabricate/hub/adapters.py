"""Adapters for hubs with a public upload API, as steps the share queue can run and resume.

An adapter turns a package into a list of steps (``plan``), runs one step (``run``), and,
after a lost answer, asks the hub whether a step already happened (``recheck``) so that a
retry or a restart never creates a second thing or uploads a file twice. The queue
(queue.py) keeps each step's state and result; the adapter keeps nothing between calls.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from fabricate.errors import InputError
from fabricate.hub.client import USER_AGENT, HubConfig, token_hint
from fabricate.hub.package import ModelPackage
from fabricate.hub.profiles import GENERIC, SKETCHFAB, THINGIVERSE, HubProfile, print_settings_markdown, profile_of
from fabricate.hub.transport import HubAnswerUnreadable, HubError, send


@dataclass
class Step:
    """One request (or a few read-only ones) at the hub; ``group`` names the steps that make one object there
    (a file's upload slot, storage and finalisation), which a recheck may find done all at once."""

    name: str
    group: str
    args: dict


class HubAdapter:
    profile: HubProfile
    #: How the token is presented: "Bearer" (OAuth) or "Token" (Sketchfab's API token).
    auth_scheme = "Bearer"
    #: Whether the hub drops a write repeated with the same Idempotency-Key, so a lost answer may simply be
    #: sent again; otherwise it goes back to the queue, which rechecks at the hub first.
    dedupes_writes = False

    def __init__(self, config: HubConfig, sleep=time.sleep):
        self.config, self.sleep = config, sleep

    def plan(self, package: ModelPackage, publish: bool = False, private: bool = False) -> list:
        raise NotImplementedError

    def run(self, step: Step, done: dict, key: str) -> dict:
        raise NotImplementedError

    def seen_before(self, step: Step, done: dict):
        """Before ``step`` is first sent: the ids of what the hub already holds that ``recheck`` could take for
        this step's work (the user's older things of the same name); None when a recheck cannot be misled."""
        return None

    def recheck(self, step: Step, done: dict, seen_before) -> Optional[tuple]:
        """``(result, whole_group)`` when the hub shows ``step`` happened, else None (send it again)."""
        raise NotImplementedError

    def link(self, done: dict) -> str:
        raise NotImplementedError

    def _api(self, method: str, path_or_url: str, *, key: Optional[str] = None, what: str, **body):
        """A request to the hub's API with the token: only to the configured API host, so a URL the hub
        hands back (a finalise address) can never carry the token elsewhere."""
        url = path_or_url if "://" in path_or_url else f"{self.config.base_url}{path_or_url}"
        if urlsplit(url).netloc != urlsplit(self.config.base_url).netloc:
            raise HubAnswerUnreadable(f"{self.profile.title} asked for a request to {urlsplit(url).netloc}, "
                                      "not its API host; the token is not sent there")
        headers = {"Authorization": f"{self.auth_scheme} {self.config.token}", "User-Agent": USER_AGENT}
        if key:
            headers["Idempotency-Key"] = key
        # Reads are safe to repeat; a write only where the hub deduplicates it (see dedupes_writes).
        return send(method, url, self.config.policy(), hub=self.profile.title, what=what, sleep=self.sleep,
                    token_hint=token_hint(self.profile.name), retry_lost_answers=method == "GET" or self.dedupes_writes,
                    headers=headers, body=(lambda: body) if body else None)


def _json(response, hub: str, what: str, kind: type = dict):
    """The answer's JSON, which must be a ``kind`` (an object, or a list for listings)."""
    try:
        body = response.json()
    except ValueError:
        raise HubAnswerUnreadable(f"{hub} answered {what} with something that is not JSON; nothing more was sent")
    if not isinstance(body, kind):
        raise HubAnswerUnreadable(f"{hub} answered {what} with a JSON {type(body).__name__} where its API gives "
                                  f"{'a list' if kind is list else 'an object'}; nothing more was sent")
    return body


def _field(body, name: str, hub: str, what: str):
    """``body[name]``, or a HubAnswerUnreadable naming the missing field (the hub's API changed, or it is not
    the hub): the next request depends on it, so nothing more is sent."""
    value = body.get(name) if isinstance(body, dict) else None
    if value is None or value == "":
        raise HubAnswerUnreadable(f"{hub} answered {what} without the {name!r} field its API documents; "
                                  "nothing more was sent")
    return value


def _entries(body) -> list:
    """The objects of a listing (entries that are not objects cannot be matched and are left out)."""
    return [entry for entry in body if isinstance(entry, dict)]


def _upload_names(paths: list) -> list:
    """A distinct upload name for each path (two pictures may share a file name)."""
    names = []
    for index, path in enumerate(paths):
        name = Path(path).name
        names.append(name if name not in names else f"{index + 1}-{name}")
    return names


class ThingiverseAdapter(HubAdapter):
    """Thingiverse's REST API, following its upload guide (see HUBS.md): create the thing (unpublished,
    work in progress unless published), for each file request an upload slot, post it to the storage
    form the slot names, finalise it; pictures the same way, the cover first; publish only when asked."""

    profile = THINGIVERSE

    def plan(self, package: ModelPackage, publish: bool = False, private: bool = False) -> list:
        self.profile.check(package)
        thing = {"name": self.profile.title_for(package), "description": self.profile.description_for(package),
                 "instructions": print_settings_markdown(package), "tags": self.profile.tags_for(package),
                 "license": self.profile.licence_code(package.licence), "is_wip": not publish}
        if package.category:
            thing["category"] = package.category
        steps = [Step("thing", "thing", thing)]
        uploads = [Path(package.model_path), *package.pictures()]
        for path, name in zip(uploads, _upload_names(uploads)):
            group = f"file:{name}"
            args = {"path": str(path), "filename": name}
            steps += [Step(f"request:{name}", group, args), Step(f"store:{name}", group, args),
                      Step(f"finalize:{name}", group, args)]
        if publish:
            steps.append(Step("publish", "publish", {}))
        return steps

    def run(self, step: Step, done: dict, key: str) -> dict:
        kind = step.name.split(":", 1)[0]
        hub = self.profile.title
        if kind == "thing":
            return self._thing_result(_json(self._api("POST", "/things", key=key, what="the new thing",
                                                      json=step.args), hub, "the new thing"), "the new thing")
        thing_id = done["thing"]["id"]
        name = step.args.get("filename")
        if kind == "request":
            what = f"the upload request for {name}"
            slot = _json(self._api("POST", f"/things/{thing_id}/files", key=key, what=f"an upload of {name}",
                                   json={"filename": name}), hub, what)
            fields = _field(slot, "fields", hub, what)
            _field(fields, "success_action_redirect", hub, what)  # where the finalise step goes
            return {"action": _field(slot, "action", hub, what), "fields": fields}
        if kind == "store":
            slot = done[f"request:{name}"]
            # The storage form is the hub's storage service, not its API: it gets the signed fields, never
            # the token. Posting the same key again overwrites, so a lost answer may simply be sent again.
            send("POST", slot["action"], self.config.policy(), hub=f"{self.profile.title}'s storage",
                 what=f"the file {name}", sleep=self.sleep, headers={"User-Agent": USER_AGENT},
                 body=lambda: {"data": slot["fields"], "files": {"file": (name, Path(step.args["path"]).read_bytes())}})
            return {}
        if kind == "finalize":
            slot = done[f"request:{name}"]
            finalised = self._api("POST", slot["fields"]["success_action_redirect"], key=key,
                                  what=f"the finalisation of {name}", data=slot["fields"])
            body = _json(finalised, hub, f"the finalisation of {name}")
            return {"id": body.get("id"), "name": body.get("name", name)}
        if kind == "publish":
            self._api("POST", f"/things/{thing_id}/publish", key=key, what="the publication")
            return {"published": True}
        raise HubError(f"unknown Thingiverse step {step.name!r}")

    def _thing_result(self, thing: dict, what: str) -> dict:
        """What later steps need of the thing: its id and page (``public_url``; ``url`` in the guide's example)."""
        thing_id = _field(thing, "id", self.profile.title, what)
        return {"id": thing_id, "public_url": thing.get("public_url") or thing.get("url")
                or f"{self.profile.site_url}/thing:{thing_id}"}

    def _things_named(self, name: str) -> list:
        # The user's own things by name: how thingiverse-publisher finds the thing it made.
        what = "the list of your things"
        things = _entries(_json(self._api("GET", "/users/me/things", what=what), self.profile.title, what, list))
        return [t for t in things if t.get("name") == name and t.get("id") is not None]

    def seen_before(self, step: Step, done: dict):
        return [t["id"] for t in self._things_named(step.args["name"])] if step.name == "thing" else None

    def recheck(self, step: Step, done: dict, seen_before) -> Optional[tuple]:
        if step.name == "thing":
            mine = [t for t in self._things_named(step.args["name"]) if t["id"] not in (seen_before or [])]
            if not mine:
                return None
            return self._thing_result(max(mine, key=lambda t: t["id"]), "the list of your things"), False
        thing_id = done["thing"]["id"]
        if step.name == "publish":
            thing = _json(self._api("GET", f"/things/{thing_id}", what="the thing"), self.profile.title, "the thing")
            return ({"published": True}, False) if thing.get("is_published") else None
        name = step.args["filename"]
        for listing in ("files", "images"):
            what = f"the thing's {listing}"
            entries = _entries(_json(self._api("GET", f"/things/{thing_id}/{listing}", what=what),
                                     self.profile.title, what, list))
            for entry in entries:
                if entry.get("name") == name:
                    return {"id": entry.get("id"), "name": name}, True
        return None

    def link(self, done: dict) -> str:
        return done["thing"]["public_url"]


class SketchfabAdapter(HubAdapter):
    """Sketchfab's Data API v3 model upload (see HUBS.md): one multipart ``POST /models`` with the GLB as
    ``modelFile`` and the metadata beside it; a draft (``isPublished`` false) unless published."""

    profile = SKETCHFAB
    auth_scheme = "Token"

    def plan(self, package: ModelPackage, publish: bool = False, private: bool = False) -> list:
        self.profile.check(package)
        if not package.glb_path or not Path(package.glb_path).is_file():
            raise InputError("Sketchfab shows models in a 3D viewer from the GLB; none was found beside the model")
        model = {"path": str(package.glb_path), "name": self.profile.title_for(package),
                 "description": self.profile.description_for(package), "tags": self.profile.tags_for(package),
                 "license": self.profile.licence_code(package.licence), "isPublished": publish,
                 "isInspectable": True}
        if private:
            model["private"] = True  # a Sketchfab Pro feature; the API refuses it on other plans
        return [Step("model", "model", model)]

    def run(self, step: Step, done: dict, key: str) -> dict:
        args = step.args
        form = [("name", args["name"]), ("description", args["description"]), ("license", args["license"]),
                ("isPublished", _form_bool(args["isPublished"])), ("isInspectable", _form_bool(args["isInspectable"])),
                *[("tags", tag) for tag in args["tags"]]]
        if args.get("private"):
            form.append(("private", "true"))
        path = Path(args["path"])
        response = self._api("POST", "/models", key=key, what="the model", data=_group(form),
                             files={"modelFile": (path.name, path.read_bytes(), "model/gltf-binary")})
        try:  # the uid is in the JSON answer, or at the end of the Location header (Sketchfab's sample)
            uid = response.json().get("uid")
        except (ValueError, AttributeError):
            uid = None
        uid = uid or response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
        if not uid:
            raise HubAnswerUnreadable("Sketchfab accepted the model but named no uid for it (neither a 'uid' field "
                                      "nor a Location header); nothing more was sent")
        return {"uid": uid}

    def _models_named(self, name: str) -> list:
        what = "the list of your models"
        listing = _json(self._api("GET", "/me/models", what=what), self.profile.title, what)
        results = _field(listing, "results", self.profile.title, what) if listing else []
        if not isinstance(results, list):
            raise HubAnswerUnreadable(f"Sketchfab answered {what} with 'results' that is not a list")
        return [m for m in _entries(results) if m.get("name") == name and m.get("uid")]

    def seen_before(self, step: Step, done: dict):
        return [m["uid"] for m in self._models_named(step.args["name"])]

    def recheck(self, step: Step, done: dict, seen_before) -> Optional[tuple]:
        mine = [m for m in self._models_named(step.args["name"]) if m["uid"] not in (seen_before or [])]
        return ({"uid": mine[0]["uid"]}, True) if mine else None

    def link(self, done: dict) -> str:
        return f"{self.profile.site_url}/models/{done['model']['uid']}"


def _form_bool(value: bool) -> str:
    return "true" if value else "false"


def _group(form: list) -> dict:
    """Form fields as httpx takes them: a repeated name (each tag) as a list of values."""
    grouped = {}
    for name, value in form:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


class GenericAdapter(HubAdapter):
    """Your own hub, by the protocol fabricate defines: ``POST {base_url}/api/v1/models`` (multipart).

    Parts: ``metadata`` (JSON: title, description, licence as the SPDX id, tags, printer, source photo,
    ``ai_generated``, generator), ``model`` (the 3MF) and ``preview`` (PNG). The token goes in
    ``Authorization: Bearer``; the hub drops a request repeating an ``Idempotency-Key`` it has seen, so
    the one key of the share's step lets a lost answer (even across a restart) be sent again. The hub
    answers 200/201 with JSON holding the model's ``url``.
    """

    profile = GENERIC
    dedupes_writes = True

    def plan(self, package: ModelPackage, publish: bool = False, private: bool = False) -> list:
        self.profile.check(package)
        preview = package.preview_path if package.preview_path and Path(package.preview_path).is_file() else None
        return [Step("model", "model", {"metadata": package.metadata(), "model_path": str(package.model_path),
                                        "preview_path": str(preview) if preview else None})]

    def run(self, step: Step, done: dict, key: str) -> dict:
        args = step.args
        model = Path(args["model_path"])
        files = {"metadata": (None, json.dumps(args["metadata"]), "application/json"),
                 "model": (model.name, model.read_bytes(), "model/3mf")}
        if args.get("preview_path"):
            files["preview"] = ("preview.png", Path(args["preview_path"]).read_bytes(), "image/png")
        what = "the upload"
        body = _json(self._api("POST", "/api/v1/models", key=key, what=what, files=files), self.profile.title, what)
        return {"url": str(_field(body, "url", self.profile.title, what))}

    def recheck(self, step: Step, done: dict, seen_before) -> Optional[tuple]:
        return None  # sent again with the same Idempotency-Key, which the hub drops if it already acted on it

    def link(self, done: dict) -> str:
        return done["model"]["url"]


ADAPTERS = {"generic": GenericAdapter, "thingiverse": ThingiverseAdapter, "sketchfab": SketchfabAdapter}


def hub_adapter(hub: str, config: Optional[HubConfig] = None, sleep=time.sleep) -> HubAdapter:
    """The adapter for ``hub`` with its settings (token from the config or the OS keyring)."""
    if profile_of(hub).kind != "api":
        raise InputError(f"{profile_of(hub).title} has no upload API; fabricate prepares a package for it instead")
    config = config or HubConfig.load(hub=hub)
    if config is None:
        if hub == "generic":
            raise InputError(f"no hub is configured: set {token_hint(hub)}")
        raise InputError(f"no token for {ADAPTERS[hub].profile.title}: set {token_hint(hub)}")
    return ADAPTERS[hub](config, sleep=sleep)
