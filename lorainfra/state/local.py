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
from lorainfra.state import changelog
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
    fsync_dir,
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
LOG_MIN_BYTES = 1 << 20  # the change log is folded into the document past max(document size, this)


class LocalBackend:
    """State in one JSON file (``.lorainfra/state.json`` by default).

    Files next to it: ``<path>.lock`` (session lock: ``flock`` held by an open fd, content = who
    holds it), ``<path>.write.lock`` (short mutex around one compare-and-swap write) and
    ``<path>.backup/`` (``<serial>.json`` for the last ``keep_backups`` replaced versions, plus
    ``history.jsonl`` saying who wrote each version, when, and for what).

    While this instance holds the session lock, a write after its own previous write appends the changes
    to ``<path>.log`` (``state.changelog``: O(changes), one fsync) instead of rewriting the document; the
    log is folded back into the document when the lock is released, when it outgrows the document, and by
    the next writer that finds one. Readers apply it (an unfinished last record is ignored). Versions
    that only lived in the log are not kept as backups: the document before them and the folded one are.
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
        self.log_path = self.path.with_name(self.path.name + ".log")
        self._doc: tuple[str, State] | None = None  # text and State of the document our last write left
        self._tip: State | None = None  # our last write that landed (the document, or its last log record)
        self._tip_meta = ("", "")  # (written_at, operation) of the last log record we appended
        self._disk: object = None  # the files' identity (stat) right after our last write
        self._log_bytes = 0  # size of the change log we appended to the document in self._doc

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
        """The current version's text and State; DamagedStateError (naming the kept backups) if unreadable."""
        text, state, replayed = self._read_replayed()
        if replayed is not None and state is not None:
            return state.dumps(), state  # the text the document would have: what a write would have stored
        return text, state

    def _read_replayed(self) -> tuple[str | None, State | None, changelog.Replayed | None]:
        """The document's text, the current State (the document with its change log applied) and, when the
        log held newer versions, what was replayed. DamagedStateError if unreadable."""
        text = self._read_text(self.path)
        if text is None:
            return None, None, None
        try:
            own = self._doc
            doc = own[1] if own is not None and own[0] == text else State.loads(text)  # no parse of our own write
            log = self._read_text(self.log_path)
            if log:
                replayed = changelog.replay(text, doc, log, where=str(self.log_path))
                if replayed.records:
                    return text, replayed.state, replayed
            return text, doc, None
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
            tip = self._own_tip()
            if tip is not None and self._held is not None and self._log_bytes < max(
                    len(self._doc[0]) if self._doc else 0, LOG_MIN_BYTES):
                return self._append(tip, state, operation)  # O(changes): a record in the change log
            under: tuple[State, str, tuple[str, str, str]] | None = None  # the document under a change log
            doc_text: str | None
            current: State | None
            if tip is not None and self._doc is not None and self._log_bytes:
                doc_text, current = self._doc[0], tip  # our own log, outgrown: no need to read it back
                under = (self._doc[1], doc_text, (self._tip_meta[0], self.who, self._tip_meta[1]))
            else:
                doc_text, current, replayed = self._read_replayed()
                if replayed is not None and doc_text is not None:
                    under = (State.loads(doc_text), doc_text, self._log_meta(replayed))
            old_text = doc_text if under is None or current is None else self._encoder.dumps(current)
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
            now = rfc3339(self.clock())
            written: list[tuple[State, str, str, str]] = [(new, now, self.who, operation)]
            try:
                self._remove_stale_temps()
                if under is not None:
                    self._keep_backup(under[0], under[1])  # the document under the log
                    if current is not None:
                        written.insert(0, (current, *under[2]))
                if current is not None and old_text is not None:
                    self._keep_backup(current, old_text)
                self._record_history(written)
                atomic_write(self.path, text)
            except OSError as exc:
                raise self._write_error(exc) from exc
            self._unconfirmed = None
            self._landed_document(text, new)
            with contextlib.suppress(OSError):
                self._prune_backups()
            return new

    def _log_meta(self, replayed: changelog.Replayed) -> tuple[str, str, str]:
        """(written_at, who, operation) of the last version in a change log, for the history."""
        written_at, who, operation = replayed.meta
        return written_at or rfc3339(self.clock()), who, operation

    def _landed_document(self, text: str, new: State) -> None:
        """Our write of the whole document landed: a change log left beside it is now stale; drop it."""
        with contextlib.suppress(OSError):
            self.log_path.unlink()  # a leftover would be ignored anyway: its header names the old document
        self._doc = (text, new)
        self._tip = new
        self._log_bytes = 0
        self._disk = self._disk_key()

    def _disk_key(self) -> object:
        """The identity of the document and the change log as files (device, inode, size, times)."""
        keys: list[tuple[int, ...] | None] = []
        for path in (self.path, self.log_path):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                keys.append(None)
                continue
            keys.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(keys)

    def _own_tip(self) -> State | None:
        """Our last write, when the files are still exactly as it left them (nobody wrote since)."""
        if self._tip is None or self._doc is None or self._disk_key() != self._disk:
            return None
        return self._tip

    def _append(self, tip: State, state: State, operation: str) -> State:
        """Store ``state`` as a change-log record on ``tip`` (our last write, still current): one fsync'd append."""
        base = write_base(state, stored_lineage=tip.lineage, stored_serial=tip.serial, stored_text=None,
                          unconfirmed=None, where=self.describe())
        new = replace(state, serial=base + 1)
        assert self._doc is not None
        written_at = rfc3339(self.clock())
        line = changelog.record_line(tip, new, written_at=written_at, who=self.who, operation=operation)
        first = not self._log_bytes
        if first:
            doc_text, doc = self._doc
            line = changelog.header_line(doc.lineage, doc.serial, doc_text) + line
        data = line.encode("utf-8")
        try:
            fd = open_nofollow(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | (os.O_TRUNC if first else 0))
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)  # the commit point: the whole record, newline included, is durable
            finally:
                os.close(fd)
            if first:
                fsync_dir(self.path.parent)
        except BaseException as exc:
            self._tip = None  # the next write reads the files again
            self._unconfirmed = new.dumps()  # the record may have landed although this write failed
            if isinstance(exc, OSError):
                raise self._write_error(exc) from exc
            raise
        self._log_bytes += len(data)
        self._tip = new
        self._tip_meta = (written_at, operation)
        self._disk = self._disk_key()
        return new

    def compact(self) -> None:
        """Fold the change log into the document (same serial): ours, or one a killed run left; nothing when
        there is none. Called when the session lock is released; a failure leaves the log, which readers apply."""
        if not self._log_bytes and not os.path.lexists(self.log_path):
            return  # nothing to fold: no file touched (a read-only run releasing its lock)
        with self._write_mutex():
            tip = self._own_tip()
            if tip is not None and self._doc is not None:
                if not self._log_bytes:
                    return
                doc_text, doc = self._doc
                meta = (self._tip_meta[0], self.who, self._tip_meta[1])
            else:
                if not self.log_path.exists():
                    return
                found_text, current, replayed = self._read_replayed()
                if replayed is None or current is None or found_text is None:
                    with contextlib.suppress(OSError):
                        self.log_path.unlink()  # nothing committed in it, or it names an older document
                    return
                tip, doc_text, doc, meta = current, found_text, State.loads(found_text), self._log_meta(replayed)
            text = self._encoder.dumps(tip)
            try:
                self._remove_stale_temps()
                self._keep_backup(doc, doc_text)
                self._record_history([(tip, *meta)])
                atomic_write(self.path, text)
            except OSError as exc:
                raise self._write_error(exc) from exc
            self._landed_document(text, tip)
            with contextlib.suppress(OSError):
                self._prune_backups()

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
                text = new.dumps()
                atomic_write(self.path, text)
            except OSError as exc:
                raise self._write_error(exc) from exc
            self._landed_document(text, new)
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
                    text = newest.dumps()
                    atomic_write(self.path, text)  # the commit point
            except OSError as exc:
                raise self._write_error(exc) from exc
            if becomes_current:
                self._landed_document(text, newest)
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
                with contextlib.suppress(StateError):
                    self.compact()  # versions appended to the change log while locked go into the document
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
