"""State model: lineage, serial, managed resources, last-applied attributes and pending operations."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from lorainfra.config.model import frozen_mapping
from lorainfra.errors import StateError

FORMAT_VERSION = 1
# a document holding deposed objects is written as version 2: a lorainfra that reads only version 1
# would drop them (and leak the old copies they name); every other document stays version 1
DEPOSED_FORMAT_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, DEPOSED_FORMAT_VERSION)

V = TypeVar("V")


class Entries(Mapping[str, V], Generic[V]):
    """A read-only mapping iterated in key order, whose one-key edits copy O(sqrt(n)) and sort nothing.

    ``State`` keeps its resources and pending operations in these: an apply edits the state about three
    times per resource (issue 16). Re-sorting every key on each edit made a 10,700-resource apply
    quadratic; so did a dict copy per edit, more slowly (1.4 s of the apply). The entries live in a tuple of
    ``B`` buckets (dicts, by the key's hash; ``B`` a power of two near ``sqrt(n)``): an edit copies the
    tuple and the one bucket it touches, about ``2 * sqrt(n)`` references, and shares every other bucket
    with the version it came from. The buckets are never changed after construction. ``B`` doubles when the
    buckets average more than ``4 * B`` entries (an O(n) regrouping, amortised O(1) per added key). The key
    order is computed on first iteration and kept while the key set is unchanged.
    """

    __slots__ = ("_buckets", "_len", "_order", "_trail")

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        source = dict(items or {})
        self._buckets: tuple[dict[str, V], ...] = _bucketed(source.items(), len(source))
        self._len = len(source)
        self._order: tuple[str, ...] | None = None
        # the keys edited since construction, newest first, one cell each (a fresh root per construction).
        # Versions derived by setting/removing share it, so a diff against an ancestor walks only the edits
        # in between (a cell per edit: a key and a pointer, no copy of the entries kept alive)
        self._trail = _Edit(0, "", None, None)

    @classmethod
    def of(cls, items: Mapping[str, V] | None) -> Entries[V]:
        return items if isinstance(items, Entries) else cls(items)

    def __reduce__(self) -> tuple[type[Entries[V]], tuple[dict[str, V]]]:
        # pickled as its entries: a string's hash (hence its bucket) differs between processes
        return Entries, (dict(self._pairs()),)

    def _bucket(self, key: object) -> dict[str, V]:
        buckets = self._buckets
        return buckets[hash(key) & (len(buckets) - 1)]

    def __getitem__(self, key: str) -> V:
        return self._bucket(key)[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._bucket(key).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._bucket(key)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        if self._order is None:
            self._order = tuple(sorted(key for bucket in self._buckets for key in bucket))
        return iter(self._order)

    def _pairs(self) -> Iterator[tuple[str, V]]:
        """Every (key, value), in no particular order (no sort)."""
        for bucket in self._buckets:
            yield from bucket.items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Entries):
            if len(self._buckets) == len(other._buckets):  # same hashing: bucket by bucket, shared ones skipped
                return self._len == other._len and all(
                    mine is theirs or mine == theirs for mine, theirs in zip(self._buckets, other._buckets, strict=True))
            return self._len == other._len and dict(self._pairs()) == dict(other._pairs())
        return isinstance(other, Mapping) and dict(self._pairs()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # like a dict: equal by content, so not hashable

    def __repr__(self) -> str:
        return f"Entries({dict(self.items())!r})"

    def _derived(self, buckets: tuple[dict[str, V], ...], size: int, order: tuple[str, ...] | None,
                 key: str) -> Entries[V]:
        new: Entries[V] = Entries.__new__(Entries)
        new._buckets, new._len, new._order = buckets, size, order
        new._trail = _Edit(self._trail.depth + 1, key, self._trail, self._trail.root)
        return new

    def _with_bucket(self, key: str, bucket: dict[str, V]) -> tuple[dict[str, V], ...]:
        buckets = self._buckets
        at = hash(key) & (len(buckets) - 1)
        return (*buckets[:at], bucket, *buckets[at + 1:])

    def setting(self, key: str, value: V) -> Entries[V]:
        """A copy with ``key`` set (the key order is kept when the key was already there)."""
        bucket = self._bucket(key).copy()
        added = key not in bucket
        bucket[key] = value
        size = self._len + added
        if added and size > 4 * len(self._buckets) ** 2:  # outgrown: regroup into more buckets
            return self._derived(_bucketed(_chain(self._pairs(), ((key, value),)), size), size, None, key)
        return self._derived(self._with_bucket(key, bucket), size, self._order if not added else None, key)

    def changes_since(self, old: Mapping[str, V]) -> tuple[dict[str, V], list[str]]:
        """(set, removed): the entries that are not the same object in ``old``, and the keys ``old`` has and
        this has not. Unordered, no sort: the local backend's change log records these (issue 16).

        When ``old`` is a version this one was derived from by ``setting``/``removing`` (the journal's last
        commit), only the keys edited in between are looked at: O(edits), not O(entries)."""
        edited = self._edited_since(old)
        if edited is None:  # not an ancestor: compare whole
            return {k: v for k, v in self._pairs() if old.get(k) is not v}, [k for k in old if k not in self]
        mine = {k: self.get(k, _ABSENT) for k in edited}
        put = {k: v for k, v in mine.items() if v is not _ABSENT and old.get(k) is not v}
        return put, [k for k, v in mine.items() if v is _ABSENT and k in old]

    def _edited_since(self, old: Mapping[str, V]) -> set[str] | None:
        """The keys edited between ``old`` and this version; None when ``old`` is not an ancestor."""
        if not isinstance(old, Entries):
            return None
        target = old._trail
        if target.root is not self._trail.root:  # built separately: no common trail
            return None
        cell: _Edit | None = self._trail
        keys: set[str] = set()
        while cell is not None and cell.depth > target.depth:
            keys.add(cell.key)
            cell = cell.previous
        return keys if cell is target else None

    def removing(self, key: str) -> Entries[V]:
        """A copy without ``key`` (itself when the key is absent)."""
        if key not in self:
            return self
        bucket = self._bucket(key).copy()
        del bucket[key]
        return self._derived(self._with_bucket(key, bucket), self._len - 1, None, key)


_ABSENT: Any = object()


def _chain(*parts: Iterable[tuple[str, V]]) -> Iterator[tuple[str, V]]:
    for part in parts:
        yield from part


def _bucketed(pairs: Iterable[tuple[str, V]], size: int) -> tuple[dict[str, V], ...]:
    """``pairs`` grouped into a power-of-two number of buckets near ``sqrt(size)``, by the key's hash."""
    count = 1
    while count * count < size:
        count <<= 1
    buckets: tuple[dict[str, V], ...] = tuple({} for _ in range(count))
    for key, value in pairs:
        buckets[hash(key) & (count - 1)][key] = value
    return buckets


class _Edit:
    """One cell of an ``Entries`` edit trail: the key edited, how many edits since the root, the one before,
    and the root (the cell a construction starts with; its own root)."""

    __slots__ = ("depth", "key", "previous", "root")

    def __init__(self, depth: int, key: str, previous: _Edit | None, root: _Edit | None) -> None:
        self.depth, self.key, self.previous = depth, key, previous
        self.root: _Edit = root if root is not None else self


@dataclass(frozen=True)
class ResourceState:
    """A managed resource as last applied: which live object it is and what we set on it."""

    address: str  # "deployment.NAME" / "lora.NAME"
    kind: str
    remote_name: str  # full Fireworks resource name, e.g. accounts/a/deployments/d
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)  # last applied, no secrets
    dependencies: tuple[str, ...] = ()  # addresses, recorded at apply time (deletes need them)
    observed_digest: str = ""  # digest of the live object right after the last apply (drift detection)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "remote_name": self.remote_name,
            "attributes": dict(self.attributes),
            "dependencies": list(self.dependencies),
            "observed_digest": self.observed_digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            address=str(data["address"]),
            kind=str(data["kind"]),
            remote_name=str(data["remote_name"]),
            attributes=frozen_mapping(data.get("attributes") or {}),
            dependencies=tuple(data.get("dependencies") or ()),
            observed_digest=str(data.get("observed_digest") or ""),
        )


@dataclass(frozen=True)
class PendingOp:
    """An operation started but not known to have finished (written before its request is sent).

    ``identity`` is what finds the object again after a crash: ``{"remote_name": ...}`` for a
    deployment (we choose its ID), ``{"model": ..., "deployment": ..., "serverless": ...}`` for a LoRA
    (the server chooses the deployed-model ID). An update's identity is ``{"remote_name": ...}`` and its
    ``attributes`` are the values sent; a delete's identity is ``{"remote_name": ...}``.
    """

    address: str
    operation: str  # "create" | "delete" | "update"
    kind: str
    identity: Mapping[str, Any] = field(default_factory=frozen_mapping)
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)
    dependencies: tuple[str, ...] = ()
    started_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "operation": self.operation,
            "kind": self.kind,
            "identity": dict(self.identity),
            "attributes": dict(self.attributes),
            "dependencies": list(self.dependencies),
            "started_at": self.started_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingOp:
        return cls(
            address=str(data["address"]),
            operation=str(data["operation"]),
            kind=str(data["kind"]),
            identity=frozen_mapping(data.get("identity") or {}),
            attributes=frozen_mapping(data.get("attributes") or {}),
            dependencies=tuple(data.get("dependencies") or ()),
            started_at=str(data.get("started_at") or ""),
        )


def _version_problem(version: object) -> str:
    """Why a state document's format_version cannot be read, and what to write instead."""
    if type(version) is int:
        newest = READABLE_VERSIONS[-1]
        action = "upgrade lorainfra to read it" if version > newest else "this lorainfra cannot read it"
        reads = " and ".join(str(v) for v in READABLE_VERSIONS)
        return f"state format_version {version} is not supported (this lorainfra reads {reads}); {action}"
    if version is None:
        shown = "missing"
    elif isinstance(version, str):
        shown = f"the string {version!r}"
    else:
        shown = f"{json.dumps(version)[:40]} ({type(version).__name__})"
    return (f"state format_version is {shown}: write \"format_version\": {FORMAT_VERSION} "
            "(a number, without quotes) in the state document")


@dataclass(frozen=True)
class State:
    """One version of the state document. Never mutated: every change makes a new State."""

    lineage: str
    serial: int = 0
    resources: Mapping[str, ResourceState] = field(default_factory=Entries)
    pending: Mapping[str, PendingOp] = field(default_factory=Entries)
    # old copies of create-before-destroy replacements not yet deleted, by remote name (Terraform's
    # "deposed" objects): an interrupted replacement leaves one here and the next apply deletes it
    deposed: Mapping[str, ResourceState] = field(default_factory=Entries)
    format_version: int = FORMAT_VERSION
    # the Fireworks account and endpoint host the resources live in ("" until a plan binds the state)
    account: str = ""
    endpoint: str = ""

    def __post_init__(self) -> None:
        # any mapping given is held as Entries (key-ordered, cheap one-key edits); no copy when it already is
        object.__setattr__(self, "resources", Entries.of(self.resources))
        object.__setattr__(self, "pending", Entries.of(self.pending))
        object.__setattr__(self, "deposed", Entries.of(self.deposed))

    @classmethod
    def new(cls, lineage: str | None = None) -> State:
        return cls(lineage=lineage or str(uuid.uuid4()))

    # -- derivation (each returns a new State; the serial is bumped by the backend on write) --
    def with_resource(self, resource: ResourceState) -> State:
        return replace(self, resources=Entries.of(self.resources).setting(resource.address, resource))

    def without_resource(self, address: str) -> State:
        return replace(self, resources=Entries.of(self.resources).removing(address))

    def with_pending(self, op: PendingOp) -> State:
        return replace(self, pending=Entries.of(self.pending).setting(op.address, op))

    def without_pending(self, address: str) -> State:
        return replace(self, pending=Entries.of(self.pending).removing(address))

    def with_deposed(self, resource: ResourceState) -> State:
        return replace(self, deposed=Entries.of(self.deposed).setting(resource.remote_name, resource))

    def without_deposed(self, remote_name: str) -> State:
        return replace(self, deposed=Entries.of(self.deposed).removing(remote_name))

    @property
    def written_version(self) -> int:
        """The format_version this document is written with (2 only while it holds deposed objects)."""
        return DEPOSED_FORMAT_VERSION if self.deposed else FORMAT_VERSION

    def next_serial(self) -> State:
        return replace(self, serial=self.serial + 1)

    def bound_to(self, account: str, endpoint: str) -> State:
        """This state for ``account`` at ``endpoint``; an error if it records another account."""
        if self.account and self.account != account:
            where = f" at {self.endpoint}" if self.endpoint else ""
            raise StateError(
                f"the state belongs to account {self.account!r}{where}, but this run uses account {account!r} at "
                f"{endpoint}: planning would report every resource as vanished; set provider.account (or "
                f"FIREWORKS_ACCOUNT_ID) back to {self.account!r}, or give account {account!r} a state of its own "
                "(another state path or workspace)")
        return replace(self, account=account, endpoint=endpoint)

    # -- serialisation (sorted keys: byte-stable output) --
    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.written_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": {k: v.to_json() for k, v in sorted(self.resources.items())},
            "pending": {k: v.to_json() for k, v in sorted(self.pending.items())},
            **({"deposed": {k: v.to_json() for k, v in sorted(self.deposed.items())}} if self.deposed else {}),
            **({"account": self.account} if self.account else {}),
            **({"endpoint": self.endpoint} if self.endpoint else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> State:
        if not isinstance(data, dict):
            raise StateError("state document is not a JSON object")
        version = data.get("format_version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise StateError(_version_problem(version))
        try:
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                resources=Entries(
                    {k: ResourceState.from_json(v) for k, v in (data.get("resources") or {}).items()}
                ),
                pending=Entries(
                    {k: PendingOp.from_json(v) for k, v in (data.get("pending") or {}).items()}
                ),
                deposed=Entries(
                    {k: ResourceState.from_json(v) for k, v in (data.get("deposed") or {}).items()}
                ),
                account=str(data.get("account") or ""),
                endpoint=str(data.get("endpoint") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"state document is malformed: {exc}") from exc

    @classmethod
    def loads(cls, text: str) -> State:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(f"state is not valid JSON: {exc}") from exc
        return cls.from_json(data)


class Encoder:
    """Writes exactly ``State.dumps()``'s text, re-encoding only the entries that changed since its last call.

    ``json.dumps`` with ``indent`` runs the pure-Python encoder: 0.25 s for the 5 MB document of 10,700
    resources, on every group commit of an apply, holding the GIL the event loop needs (issue 16). Entries
    are frozen, so an entry that is the same object as at the last call has the same text.
    """

    def __init__(self) -> None:
        self._texts: dict[tuple[str, str], tuple[object, str]] = {}

    def dumps(self, state: State) -> str:
        texts: dict[tuple[str, str], tuple[object, str]] = {}

        def section(name: str, entries: Mapping[str, ResourceState] | Mapping[str, PendingOp]) -> str:
            if not entries:
                return f'  "{name}": {{}}'
            parts = []
            for key, value in entries.items():
                known = self._texts.get((name, key))
                if known is not None and known[0] is value:
                    text = known[1]
                else:
                    text = json.dumps(value.to_json(), indent=2, sort_keys=True).replace("\n", "\n    ")
                texts[(name, key)] = (value, text)
                parts.append(f"    {json.dumps(key)}: {text}")
            return f'  "{name}": {{\n' + ",\n".join(parts) + "\n  }"

        body = ",\n".join([
            *([f'  "account": {json.dumps(state.account)}'] if state.account else []),
            *([section("deposed", state.deposed)] if state.deposed else []),
            *([f'  "endpoint": {json.dumps(state.endpoint)}'] if state.endpoint else []),
            f'  "format_version": {json.dumps(state.written_version)}',
            f'  "lineage": {json.dumps(state.lineage)}',
            section("pending", state.pending),
            section("resources", state.resources),
            f'  "serial": {json.dumps(state.serial)}',
        ])
        self._texts = texts
        return "{\n" + body + "\n}\n"
