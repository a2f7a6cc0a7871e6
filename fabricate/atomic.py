"""Write files so a reader never sees a half-written one: every fabricate writer puts its files in place here.

The bytes go to a temporary file with a unique name beside the target (so two writers of
the same path never share one), which is renamed over the target only once complete. The
temporary file is created as any new file is, mode 0666 less the umask, so the result has
the permissions a plain ``open(path, "w")`` would give it. On any error the temporary file
is removed and the target is left as it was.

This module is at the bottom of the tree: it imports nothing from fabricate.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets

#: Start of every temporary name (hidden on Unix; tests look for leftovers by it).
TEMPORARY_PREFIX = ".partial-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(path) -> list:
    """Delete the temporary files of ``path`` left by writers that were killed (their pid is gone).

    Each temporary name carries its writer's pid, so a live writer's file is never touched.
    Returns the names removed.
    """
    directory, name = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(name)
    pattern = re.compile(re.escape(f"{TEMPORARY_PREFIX}{stem}-") + r"(\d+)-[0-9a-f]{16}" + re.escape(extension) + "$")
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            match = pattern.match(entry.name)
            if match and not _process_alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _create_temporary(path) -> str:
    """Create an empty, uniquely named file beside ``path`` and return its name."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(path)
    stem, extension = os.path.splitext(name)
    while True:
        # The extension stays last: tools that write by name pick the format from it; the pid lets a
        # later writer of the same path remove what a killed one left.
        temporary = os.path.join(directory,
                                 f"{TEMPORARY_PREFIX}{stem}-{os.getpid()}-{secrets.token_hex(8)}{extension}")
        try:
            # O_EXCL: never reuse a name another writer holds. Mode 0o666: the kernel applies the
            # umask itself, with no process-wide os.umask() juggling that would race other threads.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(descriptor)
        return temporary


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` for a tool that writes by name; rename it into place on success."""
    temporary = _create_temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", **open_options):
    """Yield a file opened for writing (``mode`` "wb" or "w") that appears at ``path`` once closed without error.

    ``open_options`` go to :func:`open` (for text, e.g. ``encoding``).
    """
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes a whole new file; mode {mode!r} is not a write mode")
    with atomic_path(path) as temporary:
        with open(temporary, mode, **open_options) as handle:
            yield handle


def write_bytes_atomic(path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
