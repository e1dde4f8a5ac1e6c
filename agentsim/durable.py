"""Writes that survive a crash: a file written whole or not at all, an fsync that reaches the
directory (so a rename in it is on disk), and the size of a log without a torn last line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def whole_lines(path: Path) -> int:
    """The size of `path` without a torn last line (one with no newline after it)."""
    data = path.read_bytes()
    return data.rfind(b"\n") + 1


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (so a rename in it is on disk), where the OS allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a temp file, fsynced, renamed over it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
