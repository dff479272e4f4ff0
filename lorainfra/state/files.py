"""Local state files, safely: no-follow opens, atomic replaces, flock helpers.

Every file of the local backend is opened through ``open_nofollow``: a symbolic link, a FIFO, a
folder or (for files rewritten in place) a hard link where a state file belongs is refused with a
StateError that says so. ``atomic_write`` replaces a file so that a reader or a crash sees the old
content or the new, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from lorainfra.errors import StateError


def make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(f"cannot create {folder}: {exc.strerror or exc}") from exc


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader (or a crash) sees the old file or the new, never a mix.

    Temp file in the same directory (mode 0600), fsync, rename over the target, fsync the directory.
    """
    refuse_symlink(path)  # os.replace would silently put a regular file in the link's place
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def symlink_error(path: Path) -> StateError:
    try:
        to = f" (to {os.readlink(path)})"
    except OSError:
        to = ""
    return StateError(
        f"{path} is a symbolic link{to}: lorainfra never follows symbolic links for its state, backup, "
        "history and lock files (a planted link could make it overwrite another file); replace the link "
        "with the file itself, or set state.path in lorainfra.yaml to the real location"
    )


def refuse_symlink(path: Path) -> None:
    """Raise StateError when ``path`` itself is a symbolic link (the folders above it may be links)."""
    if path.is_symlink():
        raise symlink_error(path)


def open_nofollow(path: Path, flags: int) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` (nor blocks on a FIFO planted there).

    FileNotFoundError passes through; every other failure is a StateError naming the file.
    """
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except FileNotFoundError:
        if flags & os.O_CREAT:
            raise StateError(f"cannot open {path}: its folder does not exist") from None
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise symlink_error(path) from None
        raise StateError(f"cannot open {path}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise StateError(f"{path} is not a regular file: move it away (lorainfra keeps its state files there)")
    if info.st_nlink > 1 and flags & (os.O_WRONLY | os.O_RDWR):
        os.close(fd)
        raise StateError(
            f"{path} has {info.st_nlink} names (hard links): lorainfra rewrites this file in place, which would "
            "change the other names too; remove it (lorainfra recreates it)"
        )
    return fd


def try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise StateError(f"cannot lock: {exc.strerror or exc}") from exc


def rewrite_fd(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8"), 0)
    os.fsync(fd)
