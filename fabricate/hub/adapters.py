"""Adapters for hubs with a public upload API, as steps the share queue can run and resume.

An adapter turns a package into a list of steps (``plan``), runs one step (``run``), and,
after a lost answer, asks the hub whether a step already happened (``recheck``) so that a
retry or a restart never creates a second thing or uploads a file twice. The queue
(queue.py) keeps each step's state and result; the adapter keeps nothing between calls.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from fabricate.errors import InputError
from fabricate.hub.client import USER_AGENT, HubConfig, token_hint
from fabricate.hub.package import ModelPackage
from fabricate.hub.profiles import SKETCHFAB, THINGIVERSE, HubProfile, print_settings_markdown
from fabricate.hub.transport import HubError, send


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
            raise HubError(f"{self.profile.title} asked for a request to {urlsplit(url).netloc}, "
                           "not its API host; the token is not sent there")
        headers = {"Authorization": f"{self.auth_scheme} {self.config.token}", "User-Agent": USER_AGENT}
        if key:
            headers["Idempotency-Key"] = key
        # Writes are not known to be deduplicated by these hubs: a lost answer goes back to the queue,
        # which rechecks before sending again. Reads are safe to repeat.
        return send(method, url, self.config.policy(), hub=self.profile.title, what=what, sleep=self.sleep,
                    token_hint=token_hint(self.profile.name), retry_lost_answers=method == "GET",
                    headers=headers, body=(lambda: body) if body else None)


def _json(response, hub: str, what: str):
    try:
        return response.json()
    except ValueError:
        raise HubError(f"{hub} answered {what} with something that is not JSON") from None


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
        if kind == "thing":
            return self._thing_result(_json(self._api("POST", "/things", key=key, what="the new thing",
                                                      json=step.args), self.profile.title, "the new thing"))
        thing_id = done["thing"]["id"]
        name = step.args.get("filename")
        if kind == "request":
            slot = _json(self._api("POST", f"/things/{thing_id}/files", key=key, what=f"an upload of {name}",
                                   json={"filename": name}), self.profile.title, "the upload request")
            return {"action": slot["action"], "fields": slot["fields"]}
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
            body = _json(finalised, self.profile.title, "the finalisation")
            return {"id": body.get("id"), "name": body.get("name", name)}
        if kind == "publish":
            self._api("POST", f"/things/{thing_id}/publish", key=key, what="the publication")
            return {"published": True}
        raise HubError(f"unknown Thingiverse step {step.name!r}")

    def _thing_result(self, thing: dict) -> dict:
        """What later steps need of the thing: its id and page (``public_url``; ``url`` in the guide's example)."""
        return {"id": thing["id"], "public_url": thing.get("public_url") or thing.get("url")
                or f"{self.profile.site_url}/thing:{thing['id']}"}

    def _things_named(self, name: str) -> list:
        # The user's own things by name: how thingiverse-publisher finds the thing it made.
        things = _json(self._api("GET", "/users/me/things", what="the list of your things"),
                       self.profile.title, "the list of things")
        return [t for t in things if t.get("name") == name]

    def seen_before(self, step: Step, done: dict):
        return [t["id"] for t in self._things_named(step.args["name"])] if step.name == "thing" else None

    def recheck(self, step: Step, done: dict, seen_before) -> Optional[tuple]:
        if step.name == "thing":
            mine = [t for t in self._things_named(step.args["name"]) if t["id"] not in (seen_before or [])]
            if not mine:
                return None
            return self._thing_result(max(mine, key=lambda t: t["id"])), False
        thing_id = done["thing"]["id"]
        if step.name == "publish":
            thing = _json(self._api("GET", f"/things/{thing_id}", what="the thing"), self.profile.title, "the thing")
            return ({"published": True}, False) if thing.get("is_published") else None
        name = step.args["filename"]
        for listing in ("files", "images"):
            entries = _json(self._api("GET", f"/things/{thing_id}/{listing}", what=f"the thing's {listing}"),
                            self.profile.title, f"the {listing}")
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
            raise HubError("Sketchfab accepted the model but named no uid for it")
        return {"uid": uid}

    def _models_named(self, name: str) -> list:
        listing = _json(self._api("GET", "/me/models", what="the list of your models"), self.profile.title,
                        "the list of models")
        return [m for m in listing.get("results", []) if m.get("name") == name]

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


ADAPTERS = {"thingiverse": ThingiverseAdapter, "sketchfab": SketchfabAdapter}


def hub_adapter(hub: str, config: Optional[HubConfig] = None, sleep=time.sleep) -> HubAdapter:
    """The adapter for ``hub`` with its settings (token from the config or the OS keyring)."""
    config = config or HubConfig.load(hub=hub)
    if config is None:
        raise InputError(f"no token for {ADAPTERS[hub].profile.title}: set {token_hint(hub)}")
    return ADAPTERS[hub](config, sleep=sleep)
