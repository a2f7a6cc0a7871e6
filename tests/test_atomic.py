"""The one atomic writer (fabricate/atomic.py) on tiny files."""
import ast
import contextlib
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from fabricate import atomic
from fabricate.atomic import TEMPORARY_PREFIX, atomic_open, atomic_path, write_bytes_atomic


@contextlib.contextmanager
def umask(value):
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list:
    return [p.name for p in Path(folder).iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_permissions_follow_the_umask_like_any_new_file(tmp_path, mask, expected):
    with umask(mask):
        write_bytes_atomic(tmp_path / "a.bin", b"a")
        with atomic_open(tmp_path / "b.txt", "w", encoding="utf-8") as handle:
            handle.write("b")
        with atomic_path(tmp_path / "c.bin") as temporary:
            Path(temporary).write_bytes(b"c")
        with open(tmp_path / "plain.bin", "wb"):
            pass
    assert mode(tmp_path / "plain.bin") == expected
    assert [mode(tmp_path / n) for n in ("a.bin", "b.txt", "c.bin")] == [expected] * 3
    assert (tmp_path / "b.txt").read_text() == "b"


def test_temporary_file_sits_beside_the_target_and_keeps_its_extension(tmp_path):
    with atomic_path(tmp_path / "sub" / "preview.png") as temporary:
        assert os.path.dirname(temporary) == str(tmp_path / "sub")
        assert os.path.basename(temporary).startswith(TEMPORARY_PREFIX) and temporary.endswith(".png")
        assert not (tmp_path / "sub" / "preview.png").exists()  # nothing at the target until done
    assert (tmp_path / "sub" / "preview.png").exists() and leftovers(tmp_path / "sub") == []


def test_two_writers_of_one_path_at_once_do_not_collide(tmp_path):
    target = tmp_path / "model.3mf"
    both_half_way = threading.Barrier(2, timeout=10)
    errors = []

    def write(content: bytes):
        try:
            with atomic_open(target) as handle:
                handle.write(content[:1000])
                handle.flush()
                both_half_way.wait()  # each has its temporary file open and half written
                handle.write(content[1000:])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    contents = [bytes([65]) * 5000, bytes([66]) * 7000]
    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() in contents  # one writer's whole file, never a mix
    assert leftovers(tmp_path) == []


def test_an_error_leaves_the_target_untouched_and_no_temporary_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "new.gcode"):
            raise RuntimeError("the tool failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_stream_writer_writes_through(tmp_path):
    target = tmp_path / "bundle.zip"
    with atomic_open(target) as stream, zipfile.ZipFile(stream, "w") as bundle:
        bundle.writestr("a.txt", "hello")
    with zipfile.ZipFile(target) as bundle:
        assert bundle.read("a.txt") == b"hello"


def test_only_write_modes(tmp_path):
    for bad in ("ab", "r", "r+b"):
        with pytest.raises(ValueError):
            with atomic_open(tmp_path / "x", bad):
                pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_is_at_the_bottom_of_the_tree():
    tree = ast.parse(Path(atomic.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name == "fabricate" or name.startswith("fabricate.")]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "model.3mf"
    # A writer killed mid-write: its temporary stays, named with its (now dead) pid.
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(child.stdout)
    stale = tmp_path / f".partial-model-{dead}-{'0' * 16}.3mf"
    stale.write_bytes(b"half")
    alive = tmp_path / f".partial-model-{os.getpid()}-{'1' * 16}.3mf"  # a live writer's: kept
    alive.write_bytes(b"in progress")
    write_bytes_atomic(target, b"done")
    assert target.read_bytes() == b"done"
    assert not stale.exists() and alive.exists()
