"""SQLite persistence: connection (WAL, synchronous NORMAL, busy timeout), schema with version, and row helpers."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lorainfra.emulator.errors import not_found

SCHEMA_VERSION = 1

_COMMON = (
    "account TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL PRIMARY KEY, state TEXT NOT NULL DEFAULT '', "
    "create_time REAL NOT NULL, update_time REAL NOT NULL, next_at REAL, "
    "data TEXT NOT NULL, internal TEXT NOT NULL DEFAULT '{}'"
)
_TABLES: dict[str, str] = {
    "deployments": "",
    "deployed_models": ", model TEXT NOT NULL, deployment TEXT, serverless INTEGER NOT NULL DEFAULT 0",
    "models": ", builtin INTEGER NOT NULL DEFAULT 0, base_model TEXT",
    "deployment_shapes": "",
    "deployment_shape_versions": ", shape TEXT NOT NULL",
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS {t}_acct_ct ON {t}(account, create_time, name)",
    "CREATE INDEX IF NOT EXISTS {t}_acct_name ON {t}(account, name)",
    "CREATE INDEX IF NOT EXISTS {t}_acct_state ON {t}(account, state, create_time, name)",
    "CREATE INDEX IF NOT EXISTS {t}_next ON {t}(next_at) WHERE next_at IS NOT NULL",
)
_EXTRA_DDL = (
    "CREATE INDEX IF NOT EXISTS dm_deployment_model ON deployed_models(deployment, model, state)",
    "CREATE INDEX IF NOT EXISTS dm_deployment_name ON deployed_models(deployment, name)",
    "CREATE INDEX IF NOT EXISTS dm_account_model ON deployed_models(account, model, state)",
    "CREATE INDEX IF NOT EXISTS deployed_models_srv ON deployed_models(account, serverless, name)",
    "CREATE INDEX IF NOT EXISTS models_base ON models(base_model)",
    "CREATE INDEX IF NOT EXISTS versions_shape ON deployment_shape_versions(shape, create_time, name)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS model_files (model TEXT NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL, "
    "uploaded INTEGER NOT NULL DEFAULT 0, content BLOB, sha256 TEXT, PRIMARY KEY (model, filename))",
)


class Store:
    """One SQLite connection guarded by a lock; safe for several processes on one file (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # uploaded model files are kept on disk beside the database (a temporary folder for :memory:)
        self._scratch = tempfile.TemporaryDirectory(prefix="lorainfra-emulator-files-") if self.path == ":memory:" else None
        self.files_dir = Path(self._scratch.name if self._scratch else self.path + ".files")
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL, not OFF: OFF saved about 0.06 ms per write (no fsync at WAL checkpoints) but an OS crash
        # could then corrupt the file that is the quickstart's whole "account"; NORMAL can only lose the
        # last commits. WAL commits are shared with other processes either way.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self.tx() as db:
            for table, extra in _TABLES.items():
                db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({_COMMON}{extra})")
                for ddl in _INDEXES:
                    db.execute(ddl.format(t=table))
            for ddl in _EXTRA_DDL:
                db.execute(ddl)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('clock_offset', '0')")
            elif int(row["value"]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"emulator db {self.path} has schema version {row['value']}, newer than {SCHEMA_VERSION}"
                )

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE), committed on success, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def meta_get(self, db: sqlite3.Connection, key: str, default: str = "") -> str:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row["value"])

    def meta_set(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def blob(self, model: str, filename: str) -> Path:
        """Where the bytes of one uploaded model file are kept."""
        return self.files_dir / hashlib.sha256(f"{model}\n{filename}".encode()).hexdigest()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        if self._scratch is not None:
            self._scratch.cleanup()


def get_row(db: sqlite3.Connection, table: str, name: str) -> dict[str, Any] | None:
    row = db.execute(f"SELECT * FROM {table} WHERE name = ?", (name,)).fetchone()
    return None if row is None else decode(row)


def due_rows(db: sqlite3.Connection, table: str, now: float) -> Iterator[tuple[dict[str, Any], float]]:
    """Rows whose next transition is due by ``now``, in time order, with that time.

    Batches are re-read after the caller handled them, so chains of transitions (a state that is
    due again at once) are followed until nothing is due.
    """
    while True:
        rows = db.execute(
            f"SELECT * FROM {table} WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT 500",
            (now,),
        ).fetchall()
        if not rows:
            return
        for raw in rows:
            yield decode(raw), float(raw["next_at"])


def require_row(db: sqlite3.Connection, table: str, name: str, what: str) -> dict[str, Any]:
    """The row named ``name``, or the API's NOT_FOUND error for a ``what`` (e.g. "deployment")."""
    row = get_row(db, table, name)
    if row is None:
        raise not_found(what, name)
    return row


def decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["data"] = json.loads(out["data"])
    out["internal"] = json.loads(out["internal"])
    return out


def insert_row(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    cols = list(row)
    values = [_encode(row[c]) for c in cols]
    db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values)


def upsert_row(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    cols = list(row)
    values = [_encode(row[c]) for c in cols]
    db.execute(
        f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values
    )


def update_row(db: sqlite3.Connection, table: str, name: str, fields: dict[str, Any]) -> None:
    sets = ", ".join(f"{c} = ?" for c in fields)
    db.execute(f"UPDATE {table} SET {sets} WHERE name = ?", [*(_encode(v) for v in fields.values()), name])


def delete_row(db: sqlite3.Connection, table: str, name: str) -> None:
    db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    return value
