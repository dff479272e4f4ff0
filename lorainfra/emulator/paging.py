"""List queries: AIP-160 filter subset, orderBy, keyset page tokens, totalSize, readMask."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lorainfra.emulator.errors import invalid
from lorainfra.emulator.validation import camel

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_TERM = re.compile(
    r"""\s*([A-Za-z_][\w.]*)\s*(!=|<=|>=|=|:|<|>)\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s()"']+)\s*"""
)
_SQL_OPS = {"=": "=", ":": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class ListQuery:
    """One list call: fixed scope (where/params) plus the client's paging parameters."""

    table: str
    where: tuple[str, ...]
    params: tuple[Any, ...]
    columns: dict[str, str]
    default_order: str
    filter: str = ""
    order_by: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    page_token: str = ""
    extra_fingerprint: tuple[Any, ...] = field(default=())


def page_size_from(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError as exc:
        raise invalid(f"pageSize: invalid integer {raw!r}", field="pageSize") from exc
    if size < 0:
        raise invalid("pageSize must be >= 0", field="pageSize")
    if size == 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def _expr(name: str, columns: dict[str, str]) -> str:
    key = camel(name)
    if key in columns:
        return columns[key]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*", key):
        raise invalid(f"invalid field path {name!r}")
    return f"json_extract(data, '$.{key}')"


def _literal(raw: str) -> Any:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return json.loads(raw)
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d*", raw):
        return float(raw)
    return raw


def parse_filter(text: str, columns: dict[str, str]) -> tuple[list[str], list[Any]]:
    """Conjunctions of `field op value` (op: = != : < <= > >=), joined by AND."""
    clauses: list[str] = []
    params: list[Any] = []
    rest = text.strip()
    while rest:
        m = _TERM.match(rest)
        if not m:
            raise invalid(
                f"unsupported filter expression {text!r} (supported: field=value [AND ...])", field="filter"
            )
        fname, op, raw = m.groups()
        expr = _expr(fname, columns)
        value = _literal(raw)
        if expr in columns.values() and op in ("=", ":") and value not in ("", False, 0):
            clauses.append(f"{expr} = ?")  # plain column comparison: lets SQLite use the column's index
            params.append(int(value) if isinstance(value, bool) else value)
        elif isinstance(value, bool):
            clauses.append(f"COALESCE({expr}, 0) {_SQL_OPS[op]} ?")
            params.append(int(value))
        elif isinstance(value, int | float):
            clauses.append(f"COALESCE({expr}, 0) {_SQL_OPS[op]} ?")
            params.append(value)
        else:
            clauses.append(f"COALESCE({expr}, '') {_SQL_OPS[op]} ?")
            params.append(value)
        rest = rest[m.end() :]
        if rest:
            am = re.match(r"AND\s+", rest)
            if not am:
                raise invalid(
                    f"unsupported filter expression {text!r} (only AND is supported)", field="filter"
                )
            rest = rest[am.end() :]
    return clauses, params


def parse_order(text: str, columns: dict[str, str], default: str) -> list[tuple[str, bool]]:
    """-> [(sql expression, descending)], always ending with the unique `name` tie-breaker."""
    keys: list[tuple[str, bool]] = []
    for part in (text or default).split(","):
        bits = part.strip().split()
        if not bits:
            continue
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise invalid(f"invalid orderBy {text!r}", field="orderBy")
        expr = _expr(bits[0], columns)
        if expr not in columns.values():
            expr = f"COALESCE({expr}, '')"
        keys.append((expr, len(bits) == 2 and bits[1].lower() == "desc"))
    if not any(expr == "name" for expr, _ in keys):
        keys.append(("name", False))
    return keys


def _fingerprint(q: ListQuery) -> str:
    blob = json.dumps([q.table, list(q.params), q.filter, q.order_by, list(q.extra_fingerprint)], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def encode_token(fp: str, values: list[Any], total: int) -> str:
    raw = json.dumps({"f": fp, "v": values, "t": total}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, fp: str) -> tuple[list[Any], int | None]:
    """-> (the last page's sort key, the listing's totalSize; None from a token made before it was carried)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        obj = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values, total = obj["v"], obj.get("t")
        ok = obj["f"] == fp and isinstance(values, list) and (total is None or type(total) is int)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise invalid(f"invalid pageToken {token!r}", field="pageToken") from exc
    if not ok:
        raise invalid("pageToken does not match the other list parameters", field="pageToken")
    return values, total


def run_list(db: sqlite3.Connection, q: ListQuery) -> tuple[list[str], str, int]:
    """Return (the page's wire objects as stored JSON texts, nextPageToken or '', totalSize).

    totalSize is counted on a listing's first page and carried in its page tokens: a COUNT(*) on every
    page made paging through N rows O(N x pages).
    """
    fclauses, fparams = parse_filter(q.filter, q.columns)
    where = [*q.where, *fclauses]
    params: list[Any] = [*q.params, *fparams]
    order = parse_order(q.order_by, q.columns, q.default_order)
    base_where = " AND ".join(where) or "1"
    fp = _fingerprint(q)
    page_where, page_params = list(where), list(params)
    total: int | None = None
    if q.page_token:
        last, total = decode_token(q.page_token, fp)
        if len(last) != len(order):
            raise invalid("pageToken does not match orderBy", field="pageToken")
        ors = []
        for i, (expr, desc) in enumerate(order):
            eqs = [f"{order[j][0]} = ?" for j in range(i)]
            ors.append("(" + " AND ".join([*eqs, f"{expr} {'<' if desc else '>'} ?"]) + ")")
            page_params.extend([*last[:i], last[i]])
        page_where.append("(" + " OR ".join(ors) + ")")
    if total is None:
        total = int(db.execute(f"SELECT COUNT(*) FROM {q.table} WHERE {base_where}", params).fetchone()[0])
    order_sql = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, d in order)
    key_sql = ", ".join(f"{e} AS k{i}" for i, (e, _) in enumerate(order))
    rows = db.execute(
        f"SELECT data, {key_sql} FROM {q.table} WHERE {' AND '.join(page_where) or '1'} "
        f"ORDER BY {order_sql} LIMIT ?",
        [*page_params, q.page_size + 1],
    ).fetchall()
    more = len(rows) > q.page_size
    rows = rows[: q.page_size]
    items = [str(r["data"]) for r in rows]
    token = ""
    if more and rows:
        token = encode_token(fp, [rows[-1][f"k{i}"] for i in range(len(order))], total)
    return items, token, total


def apply_read_mask(obj: dict[str, Any], mask: str | None) -> dict[str, Any]:
    """Top-level (and dotted) field projection; empty or '*' keeps everything."""
    if not mask or mask.strip() in ("*", ""):
        return obj
    out: dict[str, Any] = {}
    for raw in mask.split(","):
        path = camel(raw.strip())
        if not path:
            continue
        src: Any = obj
        parts = path.split(".")
        for p in parts:
            src = src.get(p) if isinstance(src, dict) else None
        if src is None:
            continue
        dst = out
        for p in parts[:-1]:
            dst = dst.setdefault(p, {})
        dst[parts[-1]] = src
    return out
