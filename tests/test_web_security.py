"""Hostile requests against the real server over HTTP (issue 12): numbers, other sites, other names,
oversized bodies, a busy server, damaged stored jobs, server options, and workers outliving the server.

Every case asks a uvicorn server on a loopback port (conftest's `live_server`, or a real
`fabricate serve` process), never a test client.
"""
from __future__ import annotations

import io
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from fabricate.jobs import JobStore
from fabricate.jobs.store import PhotoFile
from fabricate.options import all_option_fields

from conftest import ROOT, live_server

#: Values of a number field a careless user or an attacker might send.
HOSTILE_NUMBERS = ("inf", "-inf", "+inf", "Infinity", "nan", "NaN", "-nan", "1e400", "-1e400", "-0", "0", "-1",
                   "-0.5", "1e12", "99999999999999999999", "abc", "1.2.3", "0x10", "12abc", "1,5")
NUMBER_FIELDS = [f for f in all_option_fields() if f.kind in (int, float)]


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def must_be_refused(field, text: str) -> bool:
    """Whether the schema's own type and range rule out ``text`` (worked out here, not by the library)."""
    try:
        value = float(text)
    except ValueError:
        return True
    if not math.isfinite(value) or (field.kind is int and value != int(value)):
        return True
    spec = field.spec
    if spec.minimum is not None and (value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum):
        return True
    if spec.maximum is not None and value > spec.maximum:
        return True
    allowed = spec.allowed()
    return allowed is not None and value not in allowed


def post_job(client, base, fields=None, headers=None, photo=None):
    data = {"printer": "bambu-a1", "resolution": "128", **(fields or {})}
    return client.post(f"{base}/api/jobs", data=data, headers=headers or {},
                       files={"photo": ("p.png", photo or tiny_png(), "image/png")})


def strict_json(text: str):
    """JSON as the page's JSON.parse reads it: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"bare {name} in {text[:80]!r}")

    return json.loads(text, parse_constant=refuse)


def test_every_hostile_number_in_every_field_is_refused_naming_it_and_nothing_is_stored(tmp_path):
    cases = [(f, text) for f in NUMBER_FIELDS for text in HOSTILE_NUMBERS if must_be_refused(f, text)]
    assert len({f.name for f, _ in cases}) == len(NUMBER_FIELDS) >= 10
    photo = tiny_png()
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        for f, text in cases:
            response = post_job(client, base, {f.name: text}, photo=photo)
            detail = response.json()["detail"]
            assert response.status_code == 422, (f.name, text, response.text)
            assert f.name in detail or f.name.replace("_", " ") in detail, (f.name, text, detail)
        listed = client.get(f"{base}/api/jobs")
        assert listed.status_code == 200 and listed.json() == []
    assert not any((tmp_path / "data" / "jobs").iterdir())


def insert_damaged_jobs(data_dir: Path) -> dict:
    """Rows a store written by an older version (or damaged on disk) might hold, put straight into SQLite."""
    store = JobStore(data_dir)
    photo = PhotoFile(tiny_png(), "png", "p.png")
    jobs = {kind: store.create([photo], {"printer": "bambu-a1"}).id
            for kind in ("nan_options", "nan_result", "corrupt_result", "infinite_progress", "unknown_status", "good")}
    updates = {
        "nan_options": ("UPDATE jobs SET options = ? WHERE id = ?", '{"printer": "bambu-a1", "layer_height": NaN}'),
        "nan_result": ("UPDATE jobs SET status = 'succeeded', result = ? WHERE id = ?", '{"fit": {"height_mm": NaN}}'),
        "corrupt_result": ("UPDATE jobs SET status = 'succeeded', result = ? WHERE id = ?", '{"fit": '),
        "infinite_progress": ("UPDATE jobs SET status = 'running', progress = ? WHERE id = ?", float("inf")),
        "unknown_status": ("UPDATE jobs SET status = ? WHERE id = ?", "exploded"),
    }
    with sqlite3.connect(store.db_path) as db:
        for kind, (sql, value) in updates.items():
            db.execute(sql, (value, jobs[kind]))
        db.execute("UPDATE jobs SET status = 'failed', error = 'old' WHERE id = ?", (jobs["good"],))
    return jobs


def read_events(client, url) -> list:
    events = []
    with client.stream("GET", url, timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(strict_json(line[6:]))
    return events


def test_damaged_stored_jobs_never_break_the_list_the_events_or_a_restart(tmp_path):
    data = tmp_path / "data"
    jobs = insert_damaged_jobs(data)
    for attempt in ("first start", "restart"):
        with live_server(data) as base, httpx.Client(timeout=60) as client:
            listed = client.get(f"{base}/api/jobs")
            assert listed.status_code == 200, (attempt, listed.text)
            by_id = {job["id"]: job for job in strict_json(listed.text)}
            assert set(by_id) == set(jobs.values())
            for kind, job_id in jobs.items():
                job = by_id[job_id]
                assert job["status"] == "failed", (attempt, kind, job)
                if kind != "good":
                    assert "damaged" in job["error"], (attempt, kind, job["error"])
                events = read_events(client, f"{base}/api/jobs/{job_id}/events")
                assert events[-1]["status"] == "failed", (attempt, kind)
                assert client.get(f"{base}/api/jobs/{job_id}/model.3mf").status_code == 409
    # The restart recorded why the damaged queued one never runs.
    assert "damaged" in JobStore(data).get(jobs["nan_options"]).error


def test_cross_site_changes_are_refused_and_the_page_and_plain_clients_work(tmp_path):
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        port = urlsplit(base).port
        refused = [
            {"Origin": "http://evil.example"},
            {"Origin": f"http://127.0.0.1:{port + 1}"},  # another port is another origin
            {"Origin": f"http://localhost:{port}"},  # another name for the same server is another origin
            {"Origin": "null"},  # sandboxed frames and file:// pages
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ]
        for headers in refused:
            response = post_job(client, base, headers=headers)
            assert response.status_code == 403, (headers, response.text)
            assert "cross-site" in response.json()["detail"]
            assert client.delete(f"{base}/api/jobs/abcdefghijklmnop", headers=headers).status_code == 403
            outline = client.post(f"{base}/api/outline", headers=headers,
                                  files={"photo": ("p.png", tiny_png(), "image/png")})
            assert outline.status_code == 403
        assert client.get(f"{base}/api/jobs").json() == []
        # Reads from anywhere, and changes from the page's own origin or from a client that is no browser.
        assert client.get(f"{base}/api/printers", headers={"Origin": "http://evil.example"}).status_code == 200
        assert client.get(f"{base}/").status_code == 200
        own = post_job(client, base, {"height_mm": "abc"}, headers={"Origin": base, "Sec-Fetch-Site": "same-origin"})
        assert own.status_code == 422  # got past the guard to the options check
        assert post_job(client, base, {"height_mm": "abc"}).status_code == 422


def test_requests_for_another_host_name_are_refused_and_allowed_names_work(tmp_path):
    with live_server(tmp_path / "data", allowed_hosts=["fab.lan"]) as base, httpx.Client(timeout=60) as client:
        port = urlsplit(base).port
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
            for method, path in (("GET", "/api/jobs"), ("GET", "/"), ("DELETE", "/api/jobs/abcdefghijkl")):
                response = client.request(method, base + path, headers={"Host": host})
                assert response.status_code == 421, (host, path, response.text)
                assert "--allow-host" in response.json()["detail"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost.", f"[::1]:{port}", "fab.lan",
                     f"FAB.LAN:{port}"):
            assert client.get(f"{base}/api/jobs", headers={"Host": host}).status_code == 200, host
        # Behind a TLS proxy that keeps the Host: the page's own https origin may change things.
        behind = post_job(client, base, {"height_mm": "abc"}, headers={"Host": "fab.lan", "Origin": "https://fab.lan"})
        assert behind.status_code == 422


def raw_request(base: str, head: str, body_chunks=(), pause_s: float = 0.0):
    """Send a request by hand; stop sending once the server answers. (status line, bytes of body sent)."""
    parts = urlsplit(base)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if pause_s:
                time.sleep(pause_s)
        sock.setblocking(True)
        sock.settimeout(30)
        try:
            while not complete(answer):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, socket.timeout):
            pass
    return answer.split(b"\r\n", 1)[0].decode(), answer, sent


def complete(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole response with a Content-Length."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    lengths = [line.split(b":", 1)[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    return not lengths or len(body) >= int(lengths[0])


def chunked(data: bytes) -> bytes:
    """One chunk of a chunked transfer encoding."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_an_oversized_body_is_refused_before_it_is_received(tmp_path):
    limit_mb = 1
    with live_server(tmp_path / "data", max_upload_mb=limit_mb) as base:
        host = urlsplit(base).netloc
        # Declared: refused from the headers, before a byte of the 300 MB body.
        head = (f"POST /api/outline HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {300 << 20}\r\n\r\n")
        status, answer, _ = raw_request(base, head)
        assert " 413 " in status, answer[:300]
        assert b"larger than" in answer
        # Streamed without a length: refused once the limit has arrived, not after the whole body.
        head = (f"POST /api/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
        preamble = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
        chunks = [chunked(preamble)] + [chunked(b"x" * (256 << 10))] * 1200  # 300 MiB
        status, answer, sent = raw_request(base, head, chunks, pause_s=0.002)
        assert " 413 " in status, answer[:300]
        job_limit = 8 * limit_mb << 20
        assert sent < job_limit + (24 << 20), f"{sent / 2**20:.0f} MiB were sent before the refusal"
        with httpx.Client(timeout=60) as client:
            assert client.get(f"{base}/api/jobs").json() == []


def test_a_busy_server_answers_503_with_retry_after_and_stores_nothing(tmp_path):
    from web.app import create_app, serve_in_thread
    from web.uploads import PhotoDecodeSlots

    app = create_app(tmp_path / "data")
    app.state.decode_slots = PhotoDecodeSlots(slots=0, wait_s=0.2)  # every slot taken
    with serve_in_thread(app) as base, httpx.Client(timeout=60) as client:
        for response in (post_job(client, base),
                         client.post(f"{base}/api/outline", files={"photo": ("p.png", tiny_png(), "image/png")})):
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0 and "busy" in response.json()["detail"]
        assert client.get(f"{base}/api/jobs").json() == []
    assert not any((tmp_path / "data" / "jobs").iterdir())


def test_the_outline_of_a_large_photo_is_found_on_a_preview_and_given_in_its_pixels(tmp_path):
    from PIL import ImageDraw

    width, height = 6000, 4000
    image = Image.new("RGB", (width, height), (235, 235, 230))
    ImageDraw.Draw(image).rectangle((1500, 1000, 4499, 2999), fill=(180, 40, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        # The server runs in this process, so tracemalloc sees its arrays (numpy reports them).
        tracemalloc.start()
        try:
            response = client.post(f"{base}/api/outline", files={"photo": ("big.jpg", buffer.getvalue(), "image/jpeg")})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert response.status_code == 200, response.text
    # The decoded photo is 72 MB; segmenting it at full size took over 700 MB more.
    assert peak < 250e6, f"{peak / 1e6:.0f} MB traced while finding the outline"
    body = response.json()
    assert (body["width"], body["height"]) == (width, height)
    xs, ys = zip(*body["outline"])
    # The rectangle's corners, within the preview's pixel size (6000 / 1024 ≈ 6 px).
    assert abs(min(xs) - 1500) < 12 and abs(max(xs) - 4499) < 12, (min(xs), max(xs))
    assert abs(min(ys) - 1000) < 12 and abs(max(ys) - 2999) < 12, (min(ys), max(ys))


@pytest.mark.parametrize("flags, words", [
    (["--max-upload-mb", "-1"], "max upload mb must be above 0"),
    (["--max-upload-mb", "0"], "max upload mb must be above 0"),
    (["--max-upload-mb", "nan"], "max upload mb must be a finite number"),
    (["--max-upload-mb", "inf"], "max upload mb must be a finite number"),
    (["--workers", "0"], "workers must be at least 1"),
    (["--allow-host", "http://evil.example/"], "--allow-host take a host name"),
    (["--host", "127.0.0.1:80"], "got '127.0.0.1:80'"),
    (["--port", "70000"], "70000"),
])
def test_bad_server_options_are_refused_before_it_starts(tmp_path, flags, words):
    from click.testing import CliRunner

    from fabricate.cli import main

    result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(tmp_path / "data"), *flags])
    assert result.exit_code == 2, (result.output, result.exception)
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set:
    """Every live process below ``pid``, from /proc (Linux)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), set()).add(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "fabricate.cli", "serve", "--port", str(port),
                               "--data-dir", str(data_dir)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              start_new_session=True)  # its own group: the kill below reaches only what it started
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/printers", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"fabricate serve did not start: {server.stderr.read().decode()[-2000:]}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow  # starts a real server twice and a build worker
def test_build_workers_die_with_a_killed_server_and_a_restart_finds_none(tmp_path):
    data, port = tmp_path / "data", free_port()
    hamburger = ROOT / "samples" / "hamburger.png"
    server = start_server(data, port)
    workers = set()
    try:
        base = f"http://127.0.0.1:{port}"
        job = post_job(httpx, base, {"resolution": "256"}, photo=hamburger.read_bytes()).json()
        deadline = time.time() + 60
        while time.time() < deadline and httpx.get(f"{base}/api/jobs/{job['id']}").json()["status"] != "running":
            time.sleep(0.2)
        workers = descendants(server.pid)
        assert workers, "the server started no worker process"
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        deadline = time.time() + 5
        while time.time() < deadline and any(map(alive, workers)):
            time.sleep(0.1)
        assert not any(map(alive, workers)), f"workers outlived the server: {sorted(filter(alive, workers))}"
    finally:
        for pid in filter(alive, workers | {server.pid}):
            os.kill(pid, signal.SIGKILL)  # only what this test started
    again = start_server(data, port)
    try:
        interrupted = httpx.get(f"http://127.0.0.1:{port}/api/jobs/{job['id']}").json()
        assert interrupted["status"] == "failed" and "restart" in interrupted["error"]
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)


def test_a_48_megapixel_phone_jpeg_is_accepted_scaled_and_says_so(tmp_path):
    from PIL import ImageDraw

    image = Image.new("RGB", (8000, 6000), (235, 235, 230))
    ImageDraw.Draw(image).ellipse((2000, 1500, 5999, 4499), fill=(40, 90, 180))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        response = client.post(f"{base}/api/outline", files={"photo": ("phone.jpg", buffer.getvalue(), "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    # Decoded at half size by libjpeg (bounded memory); the outline is in those pixels.
    assert (body["width"], body["height"]) == (4000, 3000)
    assert "was scaled to 4000x3000" in body["note"]
    xs, _ = zip(*body["outline"])
    assert abs(min(xs) - 1000) < 12 and abs(max(xs) - 2999) < 12
