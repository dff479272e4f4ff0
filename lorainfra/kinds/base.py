"""Kind: everything lorainfra knows about one resource kind, as one frozen value.

A kind holds its config section and attribute specs (YAML path, wire path, type, forces replacement,
server default), its domain checks, how a live object is read, found and matched, its API collection,
its ready / gone / failed states and timeout, and the requests that create, update and delete it.
Code outside ``lorainfra.kinds`` asks the kind; it never branches on a kind's name.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from lorainfra.addresses import Address
from lorainfra.config.decl import Decl
from lorainfra.config.durations import parse_duration, wire_duration
from lorainfra.config.model import Limits, Resource
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.live import ModelInfo, Observed, RemoteObject

FAILED = "FAILED"
DELETED = "DELETED"


class Replacement(StrEnum):
    """How a kind's object is replaced: the new one first (two copies may live at once), or the old one first."""

    CREATE_BEFORE_DESTROY = "create_before_destroy"
    DESTROY_BEFORE_CREATE = "destroy_before_create"


@dataclass(frozen=True)
class AttributeSpec:
    """One managed attribute: flat name, YAML path, wire path, value type, and how a change is applied."""

    name: str
    wire: tuple[str, ...]
    yaml: tuple[str, ...]
    type: str = ""  # "int" | "duration" | "" (taken as written)
    forces_replacement: bool = False
    # value the server assumes when the field is absent; None means "server computes it" (an unset
    # desired value never diffs against a computed one)
    default: object = None
    # compared by prefix (the server stores a resolved version name under the requested one)
    prefix_match: bool = False
    # removed from the config: True = apply resets it (the update mask names it, the body leaves it
    # out, the server returns to its default); False = Fireworks cannot reset it, the live value stays
    resettable: bool = True
    # known only to lorainfra, never sent nor read: "state" compares the desired value with the one last
    # applied (a digest of uploaded files); "input" is never compared (where the files are read from)
    local: str = ""


@dataclass(frozen=True)
class Request:
    """One API call a kind asks the provider to send (path relative to /v1/)."""

    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=frozen_mapping)
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Lookup:
    """How to find one live object: GET ``name``, or LIST with ``filter`` and keep the one with ``key``."""

    name: str = ""
    filter: str = ""
    key: Hashable = None


@dataclass(frozen=True)
class DeclContext:
    """What a kind's checks may see besides the declaration: every first declaration, and whether every
    file could be read (a missing reference is only an error when the folder was read completely)."""

    declared: Mapping[Address, Decl]
    complete: bool
    limits: Limits = field(default_factory=Limits)  # provider.limits

    @cached_property
    def _by_kind(self) -> dict[str, dict[str, Decl]]:
        grouped: dict[str, dict[str, Decl]] = {}
        for address, decl in self.declared.items():
            grouped.setdefault(address.kind, {})[address.name] = decl
        return grouped

    def of_kind(self, kind: str) -> Mapping[str, Decl]:
        """The first declaration of each name of ``kind`` (built once per context)."""
        return self._by_kind.get(kind, {})

    @cached_property
    def _values(self) -> dict[int, tuple[Decl, tuple[dict[str, Any], dict[str, Span]]]]:
        return {}

    def values(self, decl: Decl, kind: Kind) -> tuple[dict[str, Any], dict[str, Span]]:
        """``kind.values(decl)``, worked out once per declaration in this context (a kind's ``check_all`` and the
        loader both need them); the caller must not change them."""
        kept = self._values.get(id(decl))
        if kept is None or kept[0] is not decl:
            kept = self._values[id(decl)] = (decl, kind.values(decl))
        return kept[1]


class RemoteChecks(Protocol):
    """What a kind's plan-time checks may ask the server."""

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject: ...

    async def get_model(self, name: str) -> ModelInfo | None: ...

    @property
    def limits(self) -> Limits: ...  # provider.limits

    @property
    def account(self) -> str: ...  # the account the plan is for

    async def get(self, kind: str, name: str) -> RemoteObject | None: ...  # one live object by full name


def _dig(obj: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    current: Any = obj
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _duration_or_same(value: Any) -> Any:
    """A duration string in its wire form ("10m" -> "600s"); anything else unchanged."""
    if isinstance(value, str):
        try:
            return wire_duration(parse_duration(value))
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class Kind:
    """One resource kind. Subclasses override the hooks where their API differs from the common case."""

    name: str  # address prefix: deployment.NAME
    section: str  # top-level config key
    collection: str  # REST collection under accounts/{account}/
    noun: str  # what a config name is, in messages ("deployment ID")
    attributes: tuple[AttributeSpec, ...]
    ready_state: str
    gone_states: frozenset[str]
    ready_timeout: float  # seconds to wait for ready_state (and for gone after a delete)
    create_verb: str = "create"  # operation named in a failed create ("load" for a LoRA)
    # live objects no config or state names are listed in plans as "not managed" (not for models: an
    # account holds every upload and fine-tuning output, most of them used by hand or as bases)
    report_unmanaged: bool = True
    settle_after_create: bool = False  # re-PATCH attributes an adopted object has differently
    # whether two copies may live at once during a replacement (a deployment's name is its ID: it may not)
    replacement: Replacement = Replacement.DESTROY_BEFORE_CREATE
    # the state of an object created but whose files were never uploaded ("": no files): a create that finds
    # one under its name (409) uploads its own files into it instead of waiting for a READY that never comes
    upload_state: str = ""

    # ------------------------------------------------------------------ attributes
    def spec(self, name: str) -> AttributeSpec | None:
        return next((s for s in self.attributes if s.name == name), None)

    def ignore_paths(self) -> dict[str, tuple[str, ...]]:
        """Every accepted lifecycle.ignore_changes entry -> the attribute names it covers.

        An entry is an attribute's YAML path or any prefix of it (a group: ``replicas`` covers
        replicas.min and replicas.max), or the flat attribute name.
        """
        table: dict[str, list[str]] = {}
        for spec in self.attributes:
            for end in range(1, len(spec.yaml) + 1):
                table.setdefault(".".join(spec.yaml[:end]), []).append(spec.name)
        out = {path: tuple(names) for path, names in table.items()}
        for spec in self.attributes:
            out.setdefault(spec.name, (spec.name,))
        return out

    def yaml_paths(self) -> list[str]:
        """The YAML paths (and groups) accepted in lifecycle.ignore_changes, sorted."""
        return sorted({".".join(s.yaml[:end]) for s in self.attributes for end in range(1, len(s.yaml) + 1)})

    # ------------------------------------------------------------------ config
    def values(self, decl: Decl) -> tuple[dict[str, Any], dict[str, Span]]:
        """The managed attributes a declaration sets (defaults filled in), and the span of each."""
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for spec in self.attributes:
            if decl.has(*spec.yaml):
                value = decl.get(*spec.yaml)
                if spec.type == "duration":
                    value = wire_duration(parse_duration(value))
                elif spec.type == "int":
                    value = int(value)
                elif isinstance(value, dict):
                    value = dict(sorted(value.items()))
                elif isinstance(value, list):
                    value = list(value)
                values[spec.name] = value
                spans[spec.name] = decl.span(*spec.yaml)
            elif spec.default is not None:
                values[spec.name] = spec.default
        return values, spans

    def seen(self, live: Mapping[str, Any], recorded: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> Mapping[str, Any]:
        """The live attributes completed with the local ones: as last applied (``recorded``), or as desired
        when nothing was recorded (an adopted object: what lorainfra did not upload it cannot know)."""
        local = [spec.name for spec in self.attributes if spec.local]
        if not local:
            return live
        out = dict(live)
        for name in local:
            source = recorded if recorded is not None and name in recorded else desired
            if name in source:
                out[name] = source[name]
        return out

    def expand(self, decl: Decl) -> tuple[list[Decl], list[Diagnostic]]:
        """The resources one declaration stands for: itself, or the items of a fleet (a LoRA declared for
        several deployments), with problems in the list of items."""
        return [decl], []

    def check(self, decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
        """This kind's rules about one declaration's own keys (the body is a mapping)."""
        return []

    def check_all(self, decls: Iterable[Decl], ctx: DeclContext) -> list[Diagnostic]:
        """Rules across every declaration of this kind (limits); only run on a completely read folder."""
        return []

    def check_bound(self, resources: Iterable[Resource]) -> list[Diagnostic]:
        """Rules across this kind's resources that only the names resolved by ``bind`` show (at plan time)."""
        return []

    def implied_dependencies(self, decl: Decl, ctx: DeclContext) -> list[Address]:
        """Addresses a declaration depends on through its attributes (besides depends_on)."""
        return []

    def bind(self, attributes: Mapping[str, Any], resources: Mapping[Address, Resource], account: str) -> Mapping[str, Any]:
        """The desired attributes for ``account`` (known at plan time, not when the config is read; the account may
        come from the environment): references to other declarations (``model: model.NAME``) resolved to the names
        the server knows, and full names of this account's objects written the way its live objects read back."""
        return attributes

    async def precheck(
        self, resource: Resource, resources: Mapping[Address, Resource], remote: RemoteChecks
    ) -> list[Diagnostic]:
        """Ask the server about a create before anything is applied; ApiError propagates."""
        return []

    # ------------------------------------------------------------------ live objects
    def is_failed(self, state: str, status_message: str) -> bool:
        return state == FAILED

    def match_key(self, attributes: Mapping[str, Any]) -> Hashable:
        """What identifies a live object when the server chose its name (None: its name does)."""
        return None

    def observe(
        self, name: str, state: str = "", attributes: Mapping[str, Any] | None = None, status_message: str = "",
        create_time: str = "", update_time: str = "",
    ) -> RemoteObject:
        attrs = frozen_mapping(attributes)
        return RemoteObject(
            kind=self.name, name=name, state=state, attributes=attrs, status_message=status_message,
            create_time=create_time, update_time=update_time,
            gone=state in self.gone_states, failed=self.is_failed(state, status_message),
            key=self.match_key(attrs),
        )

    def platform_owned(self, obj: RemoteObject, objects: Mapping[str, RemoteObject], account: str) -> bool:
        """A live object the platform made and manages itself, never ours nor unmanaged (``objects``: the whole
        refresh by name); the refresh leaves it out."""
        return False

    def deleted(self, obj: RemoteObject | None) -> bool:
        """Whether a delete has finished (the object 404s, or reads DELETED)."""
        return obj is None or obj.state == DELETED

    def wire_out(self, spec: AttributeSpec, value: Any, account: str) -> tuple[bool, Any]:
        """(send it?, wire value) for one attribute of a request body."""
        return True, value

    def wire_in(self, spec: AttributeSpec, value: Any, account: str) -> Any:
        return value

    def to_wire(self, attributes: Mapping[str, Any], *, account: str, only: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The request body for ``attributes`` (all of them, or ``only`` those named)."""
        body: dict[str, Any] = {}
        for spec in self.attributes:
            if spec.local or spec.name not in attributes or (only is not None and spec.name not in only):
                continue
            send, value = self.wire_out(spec, attributes[spec.name], account)
            if not send:
                continue
            if spec.type == "duration":
                value = _duration_or_same(value)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            target = body
            for part in spec.wire[:-1]:
                target = target.setdefault(part, {})
            target[spec.wire[-1]] = value
        return body

    def from_wire(self, obj: Mapping[str, Any], *, account: str) -> RemoteObject:
        """Parse one live JSON object; missing fields take their documented defaults."""
        attributes: dict[str, Any] = {}
        for spec in self.attributes:
            if spec.local:
                continue
            present, value = _dig(obj, spec.wire)
            if not present or value is None:
                if spec.default is not None:
                    attributes[spec.name] = spec.default
                continue
            value = self.wire_in(spec, value, account)
            if spec.type == "duration":
                value = _duration_or_same(value)
            if isinstance(value, list):
                value = tuple(value)
            if spec.type == "int":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    pass
            attributes[spec.name] = value
        status = obj.get("status") or {}
        message = ""
        if isinstance(status, Mapping):
            code = status.get("code") or ""
            if code and code != "OK":
                message = f"{code}: {status.get('message', '')}".strip()
        return self.observe(
            str(obj.get("name", "")), str(obj.get("state", "") or ""), attributes, message,
            str(obj.get("createTime", "") or ""), str(obj.get("updateTime", "") or ""),
        )

    # ------------------------------------------------------------------ naming and finding
    def remote_name(self, account: str, resource_id: str) -> str:
        return f"accounts/{account}/{self.collection}/{resource_id}"

    def remote_id(self, resource_name: str) -> str:
        """The ID a create asks for ("" when the server chooses it)."""
        return ""

    def identity(self, resource_name: str, attributes: Mapping[str, Any], account: str) -> Mapping[str, Any]:
        """What finds this resource's live object again (kept in a pending create)."""
        return frozen_mapping({"remote_name": self.remote_name(account, resource_name)})

    def expected_name(self, identity: Mapping[str, Any]) -> str:
        """The live name before the object exists ("" when the server chooses it)."""
        return str(identity.get("remote_name", ""))

    def find(self, identity: Mapping[str, Any], observed: Observed) -> RemoteObject | None:
        """The live object with this identity in a refresh (possibly gone; the caller decides)."""
        return observed.get(self.expected_name(identity))

    def lookup(self, identity: Mapping[str, Any], account: str) -> Lookup:
        return Lookup(name=self.expected_name(identity))

    def app_target(self, remote_name: str, attributes: Mapping[str, Any],
                   remote_names: Mapping[Address, str]) -> tuple[str, str]:
        """What an application calls to use this resource, and how: (model string, "deployment" | ...).

        ``remote_names``: the live name of every managed resource (from the state). By default the
        resource's own name (a deployment, including a live-merge one, is called by its name).
        """
        return remote_name, self.name

    def prerequisites(self, attributes: Mapping[str, Any]) -> tuple[Address, ...]:
        """Resources that must be ready before a create is sent (even when this run does not touch them)."""
        return ()

    def create_first_blocker(
        self, before: Mapping[str, Any], after: Mapping[str, Any], observed: Observed
    ) -> str:
        """Why this replacement cannot load the new copy before the old one goes ("" when it can).

        ``before`` is the live object's attributes, ``after`` the desired ones.
        """
        if self.replacement is Replacement.DESTROY_BEFORE_CREATE:
            return f"its {self.noun} names one live object, which cannot exist twice"
        return ""

    def rename_problem(self, old: str, new: str) -> tuple[str, str]:
        """(why, what to do) when renaming ``old`` to ``new`` in the state would point at another live
        object (the name is the ID the server knows it by); ("", "") when a rename touches nothing."""
        old_id = self.remote_id(old)
        if not old_id or old_id == self.remote_id(new):
            return "", ""
        return (f"cannot move {self.name}.{old} to {self.name}.{new}: a {self.name}'s name is its Fireworks "
                f"{self.noun}, so {self.name}.{new} would be another object ({self.remote_id(new)}), which the "
                f"live {old_id} cannot become",
                f"keep the name {old!r} (display_name changes what people see), or declare {self.name}.{new} "
                f"beside it, move what uses {self.name}.{old} to it, then remove {self.name}.{old}")

    # ------------------------------------------------------------------ soft-deleted objects holding their ID
    def list_params(self) -> Mapping[str, Any]:
        """Extra query parameters of a refresh LIST (a kind with soft delete lists its deleted objects too)."""
        return frozen_mapping()

    def holds_id(self, obj: RemoteObject) -> bool:
        """Whether a gone object still holds its ID (a create with it is refused, 409) until the server purges
        it; such an object is reclaimed by ``undelete_request``, or deleted for good and created again."""
        return False

    def undelete_request(self, name: str) -> Request | None:
        """The request that brings a soft-deleted object back (None: the kind has no undelete)."""
        return None

    def undelete_fits(self, held: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
        """Whether the object ``held`` (its attributes), once undeleted, becomes ``desired`` by an in-place update:
        the kind can undelete and no attribute that forces replacement differs."""
        return self.undelete_request("") is not None and not any(
            spec.forces_replacement and spec.name in desired and held.get(spec.name) != desired[spec.name]
            for spec in self.attributes)

    def reclaim_note(self, held: RemoteObject, desired: Mapping[str, Any]) -> str:
        """What apply does with a soft-deleted object that holds the ID of a create (the plan and apply say it)."""
        if self.undelete_fits(held.attributes, desired):
            return f"the ID is held by a soft-deleted {self.name} ({held.name}); apply undeletes it and updates it"
        return (f"the ID is held by a soft-deleted {self.name} ({held.name}) that cannot become the config in place; "
                "apply deletes it for good (hard delete), waits until it is gone (404) and creates it again")

    def adopt_note(self, address: str, name: str) -> str:
        return f"{address}: {name} already exists (an earlier attempt?); adopting it"

    def update_note(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
        """What an in-place update from live ``before`` to desired ``after`` does besides the change ("": nothing)."""
        return ""

    def conflict_reason(self, message: str) -> str:
        """Why a create that answered 409 failed when no live object with this identity was found."""
        return message

    # ------------------------------------------------------------------ requests
    def create_request(
        self, resource_id: str, attributes: Mapping[str, Any], *, account: str, validate_only: bool = False
    ) -> Request:
        return Request("POST", f"accounts/{account}/{self.collection}",
                       body=self.to_wire(attributes, account=account))

    def update_request(
        self, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...], *, account: str
    ) -> Request:
        """PATCH with a mask of top-level paths, each with its whole sub-object, as Fireworks' own clients do
        (``updateMask=autoscaling_policy`` and the full ``autoscalingPolicy``): ``attributes`` are the desired
        values merged over the live ones, so that the fields the config leaves unset keep their live values."""
        paths = sorted({name.split(".", 1)[0] for name in changed})
        sent = tuple(spec.name for spec in self.attributes if spec.name.split(".", 1)[0] in paths)
        return Request("PATCH", name, frozen_mapping({"updateMask": ",".join(paths)}),
                       self.to_wire(attributes, account=account, only=sent))

    def delete_request(self, name: str, *, force: bool = False) -> Request:
        """The delete; ``force`` skips the server's safety checks where the kind has any (``destroy --force``)."""
        return Request("DELETE", name)

    def users(self, remote_name: str, observed: Observed) -> tuple[RemoteObject, ...]:
        """Live objects that use this one (a LoRA loaded from a model): deleting it fails while they exist."""
        return ()

    def upload_files(self, attributes: Mapping[str, Any], root: str) -> tuple[AdapterFile, ...]:
        """Files the provider uploads after the create (getUploadEndpoint, PUT, validateUpload); none by default.
        ``root``: the config folder, which paths in the attributes are relative to."""
        return ()
