"""PostgreSQL state backend: one transaction per write, an advisory session lock, full history.

The only module that imports psycopg; it does so lazily, so lorainfra works without the
``postgres`` extra until this backend is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lorainfra.errors import LockError, StateError, dsn_passwords, redact
from lorainfra.state.backend import (
    HistoryEntry,
    LockInfo,
    Version,
    damaged_state_error,
    landed_retry,
    not_damaged_error,
    write_base,
)
from lorainfra.state.lockfile import (
    UNKNOWN_HOLDER,
    Clock,
    lock_error,
    retry_until,
    rfc3339,
    utc_now,
)
from lorainfra.state.model import State

# Ordered migrations: index i brings the schema from version i to i + 1. Append only; never edit.
# ``document`` (jsonb) is for queries; ``document_text`` is the exact document as lorainfra wrote it
# (jsonb turns 1e20 into the integer 100000000000000000000), and is what lorainfra reads back.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lorainfra_states (
        workspace   text PRIMARY KEY,
        lineage     text NOT NULL,
        serial      bigint NOT NULL,
        document    jsonb NOT NULL,
        document_text text NOT NULL,
        updated_at  timestamptz NOT NULL,
        updated_by  text NOT NULL,
        operation   text NOT NULL DEFAULT ''
    );
    CREATE TABLE lorainfra_state_history (
        workspace   text NOT NULL,
        serial      bigint NOT NULL,
        lineage     text NOT NULL,
        document    jsonb NOT NULL,
        document_text text NOT NULL,
        written_at  timestamptz NOT NULL,
        who         text NOT NULL,
        operation   text NOT NULL DEFAULT '',
        PRIMARY KEY (workspace, serial)
    );
    CREATE TABLE lorainfra_locks (
        workspace   text PRIMARY KEY,
        lock_id     text NOT NULL,
        who         text NOT NULL,
        operation   text NOT NULL,
        created     timestamptz NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
MIGRATION_LOCK_KEY = 0x6C6F7261_696E6672  # "lorainfr": serialises concurrent migrations

_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ``***`` (URI or ``key=value`` form)."""
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:  # unparsable: redact what reads as a password
            return redact(dsn, dsn_passwords(dsn))
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{hosts}"
        query = _PASSWORD_KV.sub(r"\1***", parts.query.replace("&", " ")).replace(" ", "&")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return _PASSWORD_KV.sub(r"\1***", dsn)


def _psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError as exc:
        raise StateError(
            "the postgres state backend needs psycopg: install lorainfra[postgres] "
            "(pip install 'lorainfra[postgres]')"
        ) from exc
    return psycopg


class PostgresBackend:
    """State of one workspace in a PostgreSQL database shared by many workspaces.

    Tables (created and migrated on first use): ``lorainfra_schema_version``, ``lorainfra_states``
    (latest version per workspace), ``lorainfra_state_history`` (every version ever written,
    append-only) and ``lorainfra_locks`` (who holds the session lock). The session lock itself is
    ``pg_try_advisory_lock`` on a dedicated connection, released by the server if the process dies.
    """

    def __init__(self, dsn: str, workspace: str, *, who: str, clock: Clock | None = None) -> None:
        if not workspace:
            raise StateError("postgres state backend: the workspace name is empty")
        self._dsn = dsn
        self.workspace = workspace
        self.who = who
        self.clock = clock or utc_now
        self._schema_ready = False
        self._held: tuple[Any, LockInfo] | None = None  # the lock's connection and record while held
        self._lost: str | None = None
        self._unconfirmed: str | None = None  # text of our last write if its COMMIT may have landed unreported
        self._secrets = self._find_secrets(dsn)

    def describe(self) -> str:
        return f"postgres {mask_dsn(self._dsn)} workspace {self.workspace!r}"

    # -- connections and errors --
    def _find_secrets(self, dsn: str) -> list[str]:
        try:
            params = _psycopg().conninfo.conninfo_to_dict(dsn)
        except Exception:
            return dsn_passwords(dsn)
        password = params.get("password")
        return [str(password), *dsn_passwords(dsn)] if password else dsn_passwords(dsn)

    def _scrub(self, text: str) -> str:
        text = text.replace(self._dsn, mask_dsn(self._dsn))
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, exc: BaseException, doing: str) -> StateError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        return StateError(self._scrub(f"postgres state backend ({self.describe()}): {doing}: {message}"))

    @contextlib.contextmanager
    def _connect(self, doing: str, *, autocommit: bool = False) -> Iterator[Any]:
        pg = _psycopg()
        try:
            conn = pg.connect(
                self._dsn, autocommit=autocommit, application_name="lorainfra", connect_timeout=10
            )
        except pg.Error as exc:
            raise self._error(exc, f"cannot connect ({doing})") from None
        try:
            if not self._schema_ready:
                self._migrate(conn)
            yield conn
        except pg.Error as exc:
            raise self._error(exc, doing) from None
        finally:
            conn.close()

    def _migrate(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute("CREATE TABLE IF NOT EXISTS lorainfra_schema_version (version integer NOT NULL)")
            row = conn.execute("SELECT max(version) FROM lorainfra_schema_version").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"the state database schema is version {version}, newer than this lorainfra "
                    f"understands ({SCHEMA_VERSION}): upgrade lorainfra ({self.describe()})"
                )
            for number in range(version, SCHEMA_VERSION):
                conn.execute(MIGRATIONS[number])
                conn.execute("INSERT INTO lorainfra_schema_version (version) VALUES (%s)", (number + 1,))
        self._schema_ready = True

    # -- reading --
    def read(self) -> State | None:
        with self._connect("read state") as conn:
            row = conn.execute(
                "SELECT document_text FROM lorainfra_states WHERE workspace = %s", (self.workspace,)
            ).fetchone()
            return None if row is None else self._loads_current(conn, row[0])

    def _loads_current(self, conn: Any, text: str) -> State:
        """The latest state; DamagedStateError naming the versions kept in the history if unreadable."""
        try:
            return State.loads(text)
        except StateError as exc:
            kept = [
                r[0]
                for r in conn.execute(
                    "SELECT serial FROM lorainfra_state_history WHERE workspace = %s ORDER BY serial",
                    (self.workspace,),
                ).fetchall()
            ]
            raise damaged_state_error(self.describe(), str(exc), kept, "lorainfra_state_history") from None

    def read_serial(self, serial: int) -> State | None:
        with self._connect("read state history") as conn:
            row = conn.execute(
                "SELECT document_text FROM lorainfra_state_history WHERE workspace = %s AND serial = %s",
                (self.workspace, serial),
            ).fetchone()
        return None if row is None else State.loads(row[0])

    def history(self) -> Iterator[HistoryEntry]:
        with self._connect("read state history") as conn:
            rows = conn.execute(
                "SELECT serial, lineage, written_at, who, operation FROM lorainfra_state_history "
                "WHERE workspace = %s ORDER BY serial",
                (self.workspace,),
            ).fetchall()
        return iter(
            [
                HistoryEntry(serial=s, lineage=lin, written_at=rfc3339(at), who=who, operation=op)
                for s, lin, at, who, op in rows
            ]
        )

    # -- writing --
    def write(self, state: State, *, operation: str = "") -> State:
        return self._store(state, written_at=self.clock(), who=self.who, operation=operation)

    def import_versions(self, versions: Sequence[Version]) -> None:
        """Add versions with their original serials and authorship (``state migrate``), all in one
        transaction: a migrate killed midway commits nothing. The history gets every version; the
        latest state moves to the newest one if its serial is higher."""
        pg = _psycopg()
        with self._connect("import state versions") as conn:
            try:
                with conn.transaction():
                    row = conn.execute(
                        "SELECT lineage, serial FROM lorainfra_states WHERE workspace = %s FOR UPDATE",
                        (self.workspace,),
                    ).fetchone()
                    row_serial = None if row is None else int(row[1])
                    for v in sorted(versions, key=lambda v: v.state.serial):
                        if row is not None and row[0] != v.state.lineage:
                            raise StateError(
                                f"state lineage {v.state.lineage} does not match the stored lineage {row[0]} "
                                f"({self.describe()}): this state belongs to another project"
                            )
                        when = datetime.fromisoformat(v.written_at) if v.written_at else self.clock()
                        self._insert(conn, v.state, row_serial=row_serial, written_at=when, who=v.who,
                                     operation=v.operation)
                        row_serial = v.state.serial if row_serial is None else max(row_serial, v.state.serial)
            except pg.errors.UniqueViolation:
                raise StateError(
                    f"cannot import: {self.describe()} already holds some of these serials; nothing was imported"
                ) from None

    def _store(self, state: State, *, written_at: datetime, who: str, operation: str) -> State:
        """One transaction: a compare-and-swap write of ``state`` as the next serial (see ``write_base``)."""
        pg = _psycopg()
        with self._connect("write state") as conn:
            try:
                with conn.transaction():
                    row = conn.execute(
                        "SELECT lineage, serial, document_text FROM lorainfra_states "
                        "WHERE workspace = %s FOR UPDATE",
                        (self.workspace,),
                    ).fetchone()
                    base = state.serial
                    if row is not None:
                        current = self._loads_current(conn, row[2])
                        base = write_base(
                            state,
                            stored_lineage=row[0],
                            stored_serial=row[1],
                            stored_text=row[2],
                            unconfirmed=self._unconfirmed,
                            where=self.describe(),
                        )
                        if (landed := landed_retry(state, base, current)) is not None:
                            self._unconfirmed = None
                            return landed  # a retry of a write that landed: nothing new to store
                    new = replace(state, serial=base + 1)
                    self._insert(conn, new, row_serial=None if row is None else row[1],
                                 written_at=written_at, who=who, operation=operation)
                    self._unconfirmed = new.dumps()  # COMMIT may land although its answer is lost
            except pg.errors.UniqueViolation:
                raise StateError(
                    f"state was changed by another writer: serial {state.serial + 1} of workspace "
                    f"{self.workspace!r} was written meanwhile ({self.describe()}); run the command again"
                ) from None
        self._unconfirmed = None
        return new

    def restore(self, state: State, *, operation: str = "") -> State:
        """Replace a damaged latest state by ``state`` (see StateBackend.restore).

        The history keeps the version of the damaged serial as lorainfra wrote it.
        """
        with self._connect("restore state") as conn, conn.transaction():
            row = conn.execute(
                "SELECT lineage, serial, document_text FROM lorainfra_states WHERE workspace = %s FOR UPDATE",
                (self.workspace,),
            ).fetchone()
            try:
                current = None if row is None else State.loads(row[2])
            except StateError:
                pass
            else:
                raise not_damaged_error(self.describe(), current)
            if row[0] != state.lineage:
                raise StateError(
                    f"cannot restore: the file has lineage {state.lineage}, the stored state has lineage "
                    f"{row[0]} (they belong to different projects)"
                )
            new = replace(state, serial=max(state.serial, row[1]) + 1)
            self._insert(conn, new, row_serial=row[1], written_at=self.clock(), who=self.who, operation=operation)
        return new

    def _insert(
        self, conn: Any, new: State, *, row_serial: int | None, written_at: datetime, who: str, operation: str
    ) -> None:
        """Store ``new`` in the history and, when it is the newest, as the workspace's latest state."""
        jsonb = _psycopg().types.json.Jsonb(new.to_json())
        text = new.dumps()
        if row_serial is None:
            conn.execute(
                "INSERT INTO lorainfra_states (workspace, lineage, serial, document, document_text, "
                "updated_at, updated_by, operation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (self.workspace, new.lineage, new.serial, jsonb, text, written_at, who, operation),
            )
        elif new.serial > row_serial:
            conn.execute(
                "UPDATE lorainfra_states SET lineage = %s, serial = %s, document = %s, "
                "document_text = %s, updated_at = %s, updated_by = %s, operation = %s "
                "WHERE workspace = %s",
                (new.lineage, new.serial, jsonb, text, written_at, who, operation, self.workspace),
            )
        conn.execute(
            "INSERT INTO lorainfra_state_history (workspace, serial, lineage, document, "
            "document_text, written_at, who, operation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (self.workspace, new.serial, new.lineage, jsonb, text, written_at, who, operation),
        )

    # -- locking --
    def _lock_key(self, conn: Any) -> int:
        """The advisory-lock key of this workspace (per database schema, so test schemas never clash)."""
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        digest = hashlib.sha256(f"lorainfra:{schema}:{self.workspace}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        pg = _psycopg()
        with self._connect("lock state", autocommit=True) as conn:
            # Let the server notice a vanished client (half-open TCP) within about a minute.
            with contextlib.suppress(pg.Error):
                conn.execute("SET tcp_keepalives_idle = 30")
                conn.execute("SET tcp_keepalives_interval = 10")
                conn.execute("SET tcp_keepalives_count = 3")
            key = self._lock_key(conn)
            if not retry_until(
                lambda: bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]), timeout
            ):
                raise lock_error(self._lock_row(conn), timeout)
            info = LockInfo(
                id=str(uuid.uuid4()), who=self.who, operation=operation, created=rfc3339(self.clock())
            )
            # Any row still there is stale: its holder's advisory lock is gone, we hold it now.
            conn.execute(
                "INSERT INTO lorainfra_locks (workspace, lock_id, who, operation, created) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (workspace) DO UPDATE SET "
                "lock_id = EXCLUDED.lock_id, who = EXCLUDED.who, operation = EXCLUDED.operation, "
                "created = EXCLUDED.created",
                (self.workspace, info.id, info.who, info.operation, self.clock()),
            )
            self._held, self._lost = (conn, info), None
            try:
                yield info
            finally:
                self._held, self._lost = None, None
                # The connection may have been terminated by force-unlock: then there is nothing to do.
                with contextlib.suppress(pg.Error):
                    conn.execute(
                        "DELETE FROM lorainfra_locks WHERE workspace = %s AND lock_id = %s",
                        (self.workspace, info.id),
                    )
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def lock_lost(self) -> str | None:
        held = self._held
        if held is None:
            return None
        if self._lost is None:
            conn, info = held
            pg = _psycopg()
            try:
                conn.execute("SELECT 1")  # the advisory lock lives exactly as long as this session
            except pg.Error as exc:
                reason = self._scrub(" ".join(str(exc).split()) or type(exc).__name__)
                self._lost = (
                    f"the state lock ({info.describe()}) was lost: the database session holding it ended "
                    f"(server restart, network loss or force-unlock: {reason}), so another run can take it"
                )
        return self._lost

    def _lock_row(self, conn: Any) -> LockInfo | None:
        row = conn.execute(
            "SELECT lock_id, who, operation, created FROM lorainfra_locks WHERE workspace = %s",
            (self.workspace,),
        ).fetchone()
        if row is None:
            return None
        return LockInfo(id=row[0], who=row[1], operation=row[2], created=rfc3339(row[3]))

    def _holder_pids(self, conn: Any, key: int) -> list[int]:
        """Server PIDs of the sessions holding this workspace's advisory lock."""
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        ).fetchall()
        return [r[0] for r in rows]

    def lock_holder(self) -> LockInfo | None:
        with self._connect("read lock", autocommit=True) as conn:
            pids = self._holder_pids(conn, self._lock_key(conn))
            if not pids:
                return None  # a row without the advisory lock is stale: its holder is gone
            return self._lock_row(conn) or UNKNOWN_HOLDER

    def force_unlock(self, lock_id: str) -> None:
        """Remove the lock record; if a session still holds the advisory lock, terminate that session.

        Termination needs the same database role, ``pg_signal_backend`` or superuser.
        """
        with self._connect("force-unlock", autocommit=True) as conn:
            info = self._lock_row(conn)
            if info is None:
                raise StateError(f"no lock record for workspace {self.workspace!r}: nothing to unlock")
            if info.id != lock_id:
                raise StateError(f"lock id {lock_id} does not match the current lock ({info.describe()})")
            key = self._lock_key(conn)
            for pid in self._holder_pids(conn, key):
                ok = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
                if not ok:
                    raise LockError(
                        f"could not end the database session (pid {pid}) holding {info.describe()}"
                    )
            # the terminated session releases its lock as it exits
            retry_until(lambda: not self._holder_pids(conn, key), 5.0)
            conn.execute(
                "DELETE FROM lorainfra_locks WHERE workspace = %s AND lock_id = %s", (self.workspace, lock_id)
            )
