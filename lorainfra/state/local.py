"""Local state backend: a JSON file replaced atomically, numbered backups, and an OS file lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lorainfra.errors import LockError, StateError
from lorainfra.state.backend import (
    DamagedStateError,
    HistoryEntry,
    LockInfo,
    Version,
    damaged_state_error,
    landed_retry,
    not_damaged_error,
    write_base,
)
from lorainfra.state.files import (
    atomic_write,
    make_dir,
    open_nofollow,
    refuse_symlink,
    rewrite_fd,
    try_flock,
)
from lorainfra.state.lockfile import (
    Clock,
    lock_error,
    lock_from_json,
    lock_to_json,
    retry_until,
    rfc3339,
    utc_now,
)
from lorainfra.state.model import Encoder, State

DEFAULT_PATH = Path(".lorainfra") / "state.json"
KEEP_BACKUPS = 50
WRITE_MUTEX_TIMEOUT = 30.0  # seconds; the write mutex is only held for the few ms of one write
HISTORY_FILE = "history.jsonl"


class LocalBackend:
    """State in one JSON file (``.lorainfra/state.json`` by default).

    Files next to it: ``<path>.lock`` (session lock: ``flock`` held by an open fd, content = who
    holds it), ``<path>.write.lock`` (short mutex around one compare-and-swap write) and
    ``<path>.backup/`` (``<serial>.json`` for the last ``keep_backups`` replaced versions, plus
    ``history.jsonl`` saying who wrote each version, when, and for what).
    """

    def __init__(
        self,
        path: Path,
        *,
        who: str,
        clock: Clock | None = None,
        keep_backups: int = KEEP_BACKUPS,
    ) -> None:
        self.path = Path(path)
        self.who = who
        self.clock = clock or utc_now
        self.keep_backups = keep_backups
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.mutex_path = self.path.with_name(self.path.name + ".write.lock")
        self.backup_dir = self.path.with_name(self.path.name + ".backup")
        self._unconfirmed: str | None = None  # text of our last write if it may have landed unreported
        self._held: tuple[int, LockInfo] | None = None  # the lock file's fd and record while we hold it
        self._encoder = Encoder()  # re-encodes only the entries changed since the last write
        self._landed: tuple[str, State] | None = None  # text and State of our last write that landed

    def describe(self) -> str:
        return f"local file {self.path}"

    @property
    def backups(self) -> Path:
        """The backup folder, refused if it is a symbolic link (see ``refuse_symlink``)."""
        refuse_symlink(self.backup_dir)
        return self.backup_dir

    # -- reading --
    def read(self) -> State | None:
        return self._read_current()[1]

    def _read_current(self) -> tuple[str | None, State | None]:
        """The state file's text and State; DamagedStateError (naming the kept backups) if unreadable."""
        text = self._read_text(self.path)
        if text is None:
            return None, None
        try:
            return text, State.loads(text)
        except StateError as exc:
            kept = [s.serial for s in self._kept()]
            raise damaged_state_error(str(self.path), str(exc), kept, str(self.backup_dir)) from None

    def _readable_current(self) -> State | None:
        """The current state, or None when there is none or it is damaged (history stays available)."""
        try:
            return self.read()
        except DamagedStateError:
            return None

    def _kept(self) -> list[State]:
        """The readable numbered backups, oldest first."""
        out = []
        for serial in self._backup_serials():
            text = self._read_text(self.backups / f"{serial}.json")
            with contextlib.suppress(StateError):
                if text is not None:
                    out.append(State.loads(text))
        return out

    def _lineage(self, current: State | None) -> str | None:
        """The lineage history is about: the current state's, else (damaged) the newest backup's."""
        if current is not None:
            return current.lineage
        if self.path.exists():
            kept = self._kept()
            return kept[-1].lineage if kept else None
        return None

    def read_serial(self, serial: int) -> State | None:
        current = self._readable_current()
        if current is not None and current.serial == serial:
            return current
        text = self._read_text(self.backups / f"{serial}.json")
        if text is None:
            return None
        state = self._parse(text, self.backups / f"{serial}.json")
        lineage = self._lineage(current)
        if lineage is not None and state.lineage != lineage:
            return None
        return state

    def history(self) -> Iterator[HistoryEntry]:
        current = self._readable_current()
        lineage = self._lineage(current)
        meta = {(m["lineage"], m["serial"]): m for m in self._read_history_meta()}
        versions: list[tuple[int, str, Path]] = []
        for serial in self._backup_serials():
            path = self.backups / f"{serial}.json"
            text = self._read_text(path)
            if text is None:
                continue
            try:
                state = State.loads(text)
            except StateError:
                continue
            if lineage is None or state.lineage == lineage:
                versions.append((state.serial, state.lineage, path))
        if current is not None:
            versions = [v for v in versions if v[0] != current.serial]
            versions.append((current.serial, current.lineage, self.path))
        entries = []
        for serial, lin, path in sorted(versions):
            m = meta.get((lin, serial))
            if m is None:
                written_at = rfc3339(datetime.fromtimestamp(path.stat().st_mtime, UTC))
                m = {"written_at": written_at, "who": "", "operation": ""}
            entries.append(
                HistoryEntry(
                    serial=serial,
                    lineage=lin,
                    written_at=str(m["written_at"]),
                    who=str(m["who"]),
                    operation=str(m["operation"]),
                )
            )
        return iter(entries)

    # -- writing --
    def write(self, state: State, *, operation: str = "") -> State:
        """Compare-and-swap write; the rename of ``state.json`` is the commit point.

        The previous version's backup and the new version's history line are written first, so a
        write that fails leaves the state where it was (a history line for a version that never
        landed is harmless: history lists the versions it finds, and the next write of that serial
        replaces the line). Pruning old backups comes after the commit and never fails the write.
        """
        make_dir(self.path.parent)
        with self._write_mutex():
            old_text, current = self._read_current_after_own_write()
            base = state.serial
            if current is not None:
                base = write_base(
                    state,
                    stored_lineage=current.lineage,
                    stored_serial=current.serial,
                    stored_text=old_text,
                    unconfirmed=self._unconfirmed,
                    where=self.describe(),
                )
            if (landed := landed_retry(state, base, current)) is not None:
                self._unconfirmed = None
                return landed  # a retry of a write that landed: nothing new to store
            new = replace(state, serial=base + 1)
            text = self._encoder.dumps(new)
            self._unconfirmed = text  # from here on the outcome may be unknown to the caller
            try:
                self._remove_stale_temps()
                if current is not None and old_text is not None:
                    self._keep_backup(current, old_text)
                self._record_history([(new, rfc3339(self.clock()), self.who, operation)])
                atomic_write(self.path, text)
            except OSError as exc:
                raise self._write_error(exc) from exc
            self._unconfirmed = None
            self._landed = (text, new)
            with contextlib.suppress(OSError):
                self._prune_backups()
            return new

    def _read_current_after_own_write(self) -> tuple[str | None, State | None]:
        """``_read_current``, without parsing the file again when it still holds our own last write
        (compared as text: any other writer's change is seen)."""
        landed = self._landed
        if landed is not None and self._read_text(self.path) == landed[0]:
            return landed
        return self._read_current()

    def restore(self, state: State, *, operation: str = "") -> State:
        """Replace a damaged ``state.json`` by ``state`` (see StateBackend.restore).

        The damaged file is kept as ``state.json.backup/damaged.<time>.json``; the new serial is above
        the damaged one (taken to be the newest backup's + 1: every write backs up its predecessor).
        """
        make_dir(self.path.parent)
        with self._write_mutex():
            try:
                current = self.read()
            except DamagedStateError:
                pass
            else:
                raise not_damaged_error(self.describe(), current)
            old_text = self._read_text(self.path) or ""
            kept = self._kept()
            if kept and kept[-1].lineage != state.lineage:
                raise StateError(
                    f"cannot restore: the file has lineage {state.lineage}, the versions kept in "
                    f"{self.backup_dir} have lineage {kept[-1].lineage} (they belong to different projects)"
                )
            newest = kept[-1].serial if kept else 0
            new = replace(state, serial=max(state.serial, newest + 1) + 1)
            try:
                self._remove_stale_temps()
                self.backups.mkdir(exist_ok=True, mode=0o700)
                stamp = rfc3339(self.clock()).replace(":", "").replace("-", "")
                atomic_write(self.backups / f"damaged.{stamp}.json", old_text)
                self._record_history([(new, rfc3339(self.clock()), self.who, operation)])
                atomic_write(self.path, new.dumps())
            except OSError as exc:
                raise self._write_error(exc) from exc
            return new

    def import_versions(self, versions: Sequence[Version]) -> None:
        """Add versions with their original serials and authorship (``state migrate``), all or nothing.

        The newest version above the stored one becomes the state file; every other one becomes a
        backup. Backups and history are written first and the state file last, so a migrate killed
        midway leaves the stored state as it was (or none at all): never a partial copy that looks valid.
        """
        if not versions:
            return
        make_dir(self.path.parent)
        with self._write_mutex():
            old_text, current = self._read_current()
            for v in versions:
                if current is not None and current.lineage != v.state.lineage:
                    raise StateError(
                        f"state lineage {v.state.lineage} does not match the stored lineage "
                        f"{current.lineage} ({self.describe()})"
                    )
                if current is not None and v.state.serial == current.serial and old_text != v.state.dumps():
                    raise StateError(f"{self.describe()} already holds a different serial {v.state.serial}")
            ordered = sorted(versions, key=lambda v: v.state.serial)
            newest = ordered[-1].state
            becomes_current = current is None or newest.serial > current.serial
            try:
                self._remove_stale_temps()
                if becomes_current and current is not None and old_text is not None:
                    self._keep_backup(current, old_text)
                for v in ordered:
                    already = current is not None and v.state.serial == current.serial
                    if not already and not (becomes_current and v.state is newest):
                        self._keep_backup(v.state, v.state.dumps())
                self._record_history(
                    [(v.state, v.written_at or rfc3339(self.clock()), v.who, v.operation) for v in ordered]
                )
                if becomes_current:
                    atomic_write(self.path, newest.dumps())  # the commit point
            except OSError as exc:
                raise self._write_error(exc) from exc
            with contextlib.suppress(OSError):
                self._prune_backups()

    # -- locking --
    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        make_dir(self.lock_path.parent)
        fd = open_nofollow(self.lock_path, os.O_RDWR | os.O_CREAT)
        try:
            if not retry_until(lambda: try_flock(fd, fcntl.LOCK_EX), timeout):
                raise lock_error(self._holder_record(), timeout)
            info = LockInfo(
                id=str(uuid.uuid4()), who=self.who, operation=operation, created=rfc3339(self.clock())
            )
            rewrite_fd(fd, json.dumps(lock_to_json(info), sort_keys=True) + "\n")
            self._held = (fd, info)
            try:
                yield info
            finally:
                self._held = None
                with contextlib.suppress(OSError):
                    rewrite_fd(fd, "")  # clear the record; never unlink a flock'd file (races)
        finally:
            os.close(fd)  # releases the flock

    def _holder_record(self, grace: float = 1.0) -> LockInfo | None:
        """The holder's record; a holder that has just taken the flock writes it a moment later."""
        found: list[LockInfo | None] = [None]

        def recorded_or_free() -> bool:
            found[0] = self._record()
            return found[0] is not None or not self._lock_is_held()

        retry_until(recorded_or_free, grace, interval=0.01)
        return found[0]

    def lock_holder(self) -> LockInfo | None:
        info = self._record()
        if info is None:
            return None
        return info if self._lock_is_held() else None

    def lock_lost(self) -> str | None:
        held = self._held
        if held is None:
            return None
        fd, info = held
        try:
            ours = os.fstat(fd)
            there = os.lstat(self.lock_path)
        except OSError:
            there = None
        if there is not None and (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino):
            return None
        return (
            f"the state lock ({info.describe()}) was lost: {self.lock_path} was removed or replaced while "
            "this run held it, so another run can lock it"
        )

    def force_unlock(self, lock_id: str) -> None:
        info = self._record()
        if info is None:
            raise StateError(f"no lock record at {self.lock_path}: nothing to unlock")
        if info.id != lock_id:
            raise StateError(f"lock id {lock_id} does not match the current lock ({info.describe()})")
        if self._lock_is_held():
            raise LockError(
                f"{info.describe()}: that process still holds the OS lock on {self.lock_path}, "
                "so it is alive; stop it (the lock is released when it exits)"
            )
        fd = open_nofollow(self.lock_path, os.O_RDWR)
        try:
            if not try_flock(fd, fcntl.LOCK_EX):
                raise lock_error(self._record(), 0)
            rewrite_fd(fd, "")
        finally:
            os.close(fd)

    # -- helpers --
    def _record(self) -> LockInfo | None:
        text = self._read_text(self.lock_path)
        return None if not text else lock_from_json(text)

    def _lock_is_held(self) -> bool:
        """Whether some open fd (any process, this one included) holds the flock on the lock file."""
        try:
            fd = open_nofollow(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            return not try_flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _write_mutex(self) -> Iterator[None]:
        fd = open_nofollow(self.mutex_path, os.O_RDWR | os.O_CREAT)
        try:
            if not retry_until(lambda: try_flock(fd, fcntl.LOCK_EX), WRITE_MUTEX_TIMEOUT, interval=0.005):
                raise StateError(f"could not get the write mutex {self.mutex_path} in time")
            yield
        finally:
            os.close(fd)

    def _write_error(self, exc: OSError) -> StateError:
        return StateError(f"cannot write {exc.filename2 or exc.filename or self.path}: {exc.strerror or exc}")

    def _keep_backup(self, current: State, text: str) -> None:
        self.backups.mkdir(exist_ok=True, mode=0o700)
        target = self.backups / f"{current.serial}.json"
        existing = self._read_text(target)
        if existing is not None and existing != text:
            # A version of another lineage (state file deleted and started over): keep it aside.
            try:
                other = State.loads(existing).lineage
            except StateError:
                other = "unreadable"
            os.replace(target, self.backups / f"{current.serial}.{other}.json")
        if existing != text:
            atomic_write(target, text)

    def _backup_serials(self) -> list[int]:
        try:
            names = [p.name for p in self.backups.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())

    def _prune_backups(self) -> None:
        serials = self._backup_serials()
        for serial in serials[: max(0, len(serials) - self.keep_backups)]:
            with contextlib.suppress(FileNotFoundError):
                (self.backups / f"{serial}.json").unlink()

    def _read_history_meta(self) -> list[dict[str, Any]]:
        text = self._read_text(self.backups / HISTORY_FILE) or ""
        out = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError, TypeError):
                entry = json.loads(line)
                if isinstance(entry, dict) and isinstance(entry.get("serial"), int):
                    out.append(entry)
        return out

    def _record_history(self, added: list[tuple[State, str, str, str]]) -> None:
        """Add (state, written_at, who, operation) lines, dropping lines of versions no longer kept."""
        self.backups.mkdir(exist_ok=True, mode=0o700)
        kept = set(self._backup_serials()[-self.keep_backups :]) | {a[0].serial for a in added}
        replaced = {(a[0].lineage, a[0].serial) for a in added}
        entries = [
            e
            for e in self._read_history_meta()
            if e["serial"] in kept and (e.get("lineage"), e["serial"]) not in replaced
        ]
        for new, written_at, who, operation in added:
            entries.append(
                {
                    "serial": new.serial,
                    "lineage": new.lineage,
                    "written_at": written_at,
                    "who": who,
                    "operation": operation,
                }
            )
        lines = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
        atomic_write(self.backups / HISTORY_FILE, lines)

    def _remove_stale_temps(self) -> None:
        """Temp files left by a writer that crashed before its rename (we hold the write mutex)."""
        for folder in (self.path.parent, self.backups):
            with contextlib.suppress(FileNotFoundError):
                for p in folder.glob(".*.tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()

    @staticmethod
    def _read_text(path: Path) -> str | None:
        try:
            fd = open_nofollow(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc

    @staticmethod
    def _parse(text: str, path: Path) -> State:
        try:
            return State.loads(text)
        except StateError as exc:
            raise StateError(f"{path}: {exc}") from exc
