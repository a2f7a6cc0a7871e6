"""Local HTTP servers that stand in for the real hubs (none is reachable from the tests).

``FakeThingiverse`` stands in for api.thingiverse.com and its storage service, following Thingiverse's
upload guide (https://www.thingiverse.com/developers/upload-guide): ``POST /things`` creates the thing,
``POST /things/{id}/files`` {filename} answers the storage form's ``action`` and ``fields``, the file is
posted there as multipart/form-data, then ``POST`` to the ``success_action_redirect`` field finalises it;
``POST /things/{id}/publish`` publishes. ``FakeSketchfab`` stands in for api.sketchfab.com, following
Sketchfab's Data API v3 upload sample (``POST /v3/models`` multipart with ``modelFile``; 201 with the
model's ``uid``). ``FakeGenericHub`` follows fabricate's own protocol (fabricate.hub.adapters.GenericAdapter:
``POST /api/v1/models`` multipart, a repeated ``Idempotency-Key`` dropped). Each checks the token on every
API request. Used by tests/test_hub.py, tests/test_hub_adapters.py and tests/test_web_share_browser.py.
"""
import email.parser
import email.policy
import json
import threading
import time

from conftest import QuietHandler, serve_in_background

TOKEN = "tv-secret-token-9f8e7d"


def parse_multipart(content_type: str, body: bytes) -> list:
    """(name, filename, bytes) for each part of a multipart/form-data body, in order."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_payload(decode=True)) for part in message.iter_parts()]


class FakeHub:
    """A threaded local HTTP server; subclasses answer routes. ``fail`` maps "METHOD /path-prefix" to how many
    503s come first; ``hang`` names one "METHOD /path-prefix" whose first request is acted on, then held
    until ``release`` is set, then dropped without an answer (a lost answer); ``omit`` maps
    "METHOD /path-prefix" to a field left out of its JSON answers (a hub whose API changed); ``delay_s``
    holds every answer that long (so a page can show a share's progress)."""

    auth = f"Bearer {TOKEN}"

    def __init__(self, fail=None, hang=None, omit=None, delay_s=0.0):
        self.fail, self.hang, self.omit, self.delay_s = dict(fail or {}), hang, dict(omit or {}), delay_s
        self.requests = []
        self.release = threading.Event()
        self.acted = threading.Event()
        self.lock = threading.Lock()
        hub = self

        class Handler(QuietHandler):
            def handle_one(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with hub.lock:
                    hub.requests.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                         "body": body})
                    route = f"{method} {self.path}"
                    for prefix, count in hub.fail.items():
                        if route.startswith(prefix) and count > 0:
                            hub.fail[prefix] = count - 1
                            return self.answer(503, {"error": "busy"})
                    status, payload, headers = hub.route(method, self.path, self.headers, body)
                    for prefix, name in hub.omit.items():
                        if route.startswith(prefix) and isinstance(payload, dict):
                            payload = {k: v for k, v in payload.items() if k != name}
                    hang = hub.hang and route.startswith(hub.hang)
                    if hang:
                        hub.hang = None
                time.sleep(hub.delay_s)
                if hang:
                    hub.acted.set()
                    hub.release.wait(30)
                    self.close_connection = True
                    return  # the connection drops with no answer: the client cannot know it happened
                self.answer(status, payload, headers)

            def do_GET(self):
                self.handle_one("GET")

            def do_POST(self):
                self.handle_one("POST")

            def answer(self, status, payload, headers=None):
                self.send_body(status, json.dumps(payload).encode() if payload is not None else b"", headers=headers)

        self.url, self.server = serve_in_background(Handler)

    def count(self, method, prefix):
        return sum(1 for r in self.requests if r["method"] == method and r["path"].startswith(prefix))

    def close(self):
        self.release.set()
        self.server.shutdown()


class FakeThingiverse(FakeHub):
    def __init__(self, **options):
        super().__init__(**options)
        self.things, self.slots = {}, {}

    def route(self, method, path, headers, body):
        if path == "/storage" and method == "POST":  # the storage service: signed fields, no token expected
            parts = parse_multipart(headers["Content-Type"], body)
            fields = {name: value.decode() for name, filename, value in parts if filename is None}
            slot = self.slots[fields["key"].split("/")[1]]
            assert [name for name, _, _ in parts][-1] == "file", "the file must come after the fields"
            slot["stored"] = [value for name, _, value in parts if name == "file"][0]
            slot["stores"] += 1
            return 303, None, {"Location": fields["success_action_redirect"]}
        if headers.get("Authorization") != self.auth:
            return 401, {"error": "Unauthorized"}, {"WWW-Authenticate": "Bearer V1"}
        segments = path.strip("/").split("/")
        if method == "POST" and path == "/things":
            fields = json.loads(body)
            thing_id = 1000 + len(self.things)
            self.things[thing_id] = {**fields, "id": thing_id, "is_published": False, "files": [], "images": [],
                                     "public_url": f"https://www.thingiverse.com/thing:{thing_id}"}
            return 200, self.public(thing_id), {}
        if method == "GET" and path == "/users/me/things":
            return 200, [self.public(t) for t in self.things], {}
        thing = self.things.get(int(segments[1])) if segments[0] == "things" and len(segments) > 1 else None
        if method == "GET" and thing and len(segments) == 2:
            return 200, self.public(thing["id"]), {}
        if method == "GET" and thing and segments[2] in ("files", "images"):
            return 200, thing[segments[2]], {}
        if method == "POST" and thing and segments[2:] == ["files"]:
            filename = json.loads(body)["filename"]
            slot_id = str(len(self.slots) + 1)
            self.slots[slot_id] = {"thing": thing["id"], "filename": filename, "stored": None, "stores": 0}
            fields = {"AWSAccessKeyId": "AKIAFAKE", "bucket": "thingiverse-fake", "key": f"uploads/{slot_id}/{filename}",
                      "acl": "public-read", "policy": "cG9saWN5", "signature": "c2ln",
                      "success_action_redirect": f"{self.url}/files/{slot_id}/finalize"}
            return 200, {"action": f"{self.url}/storage", "fields": fields}, {}
        if method == "POST" and thing and segments[2:] == ["publish"]:
            thing["is_published"] = True
            return 200, self.public(thing["id"]), {}
        if method == "POST" and segments[0] == "files" and segments[2:] == ["finalize"]:
            slot = self.slots[segments[1]]
            if slot["stored"] is None:
                return 400, {"error": "nothing was uploaded"}, {}
            listing = "images" if slot["filename"].endswith((".png", ".jpg")) else "files"
            entry = {"id": int(segments[1]), "name": slot["filename"], "size": len(slot["stored"])}
            self.things[slot["thing"]][listing].append(entry)
            return 200, entry, {}
        return 404, {"error": "Not Found"}, {}

    def public(self, thing_id):
        thing = self.things[thing_id]
        return {k: thing[k] for k in ("id", "name", "public_url", "is_published", "is_wip")}


class FakeSketchfab(FakeHub):
    auth = f"Token {TOKEN}"

    def __init__(self, **options):
        super().__init__(**options)
        self.models = {}

    def route(self, method, path, headers, body):
        if headers.get("Authorization") != self.auth:
            return 401, {"detail": "Invalid token."}, {}
        if method == "POST" and path == "/v3/models":
            parts = parse_multipart(headers["Content-Type"], body)
            fields = {}
            for name, filename, value in parts:
                if filename is None:
                    fields.setdefault(name, []).append(value.decode())
            uid = f"{len(self.models) + 1:032x}"
            self.models[uid] = {"fields": fields, "file": [(f, v) for n, f, v in parts if n == "modelFile"][0]}
            return 201, {"uid": uid, "uri": f"{self.url}/v3/models/{uid}"}, {"Location": f"{self.url}/v3/models/{uid}"}
        if method == "GET" and path == "/v3/me/models":
            return 200, {"results": [{"uid": uid, "name": m["fields"]["name"][0]} for uid, m in self.models.items()]}, {}
        return 404, {"detail": "Not found."}, {}




class FakeGenericHub(FakeHub):
    """fabricate's own hub protocol: one multipart upload, a repeated Idempotency-Key answered as before."""

    def __init__(self, **options):
        super().__init__(**options)
        self.models, self.answers = [], {}

    def route(self, method, path, headers, body):
        if headers.get("Authorization") != self.auth:
            return 401, {"detail": "bad token"}, {}
        if method != "POST" or path != "/api/v1/models":
            return 404, {"detail": "Not Found"}, {}
        key = headers.get("Idempotency-Key")
        if key in self.answers:  # the same upload again: acted on once, answered the same
            return 201, self.answers[key], {}
        parts = {name: (filename, value) for name, filename, value in parse_multipart(headers["Content-Type"], body)}
        self.models.append({"metadata": json.loads(parts["metadata"][1]), "parts": parts, "key": key})
        answer = {"url": f"https://hub.example/models/{len(self.models)}", "id": len(self.models)}
        self.answers[key] = answer
        return 201, answer, {}
