"""Plan model: Action, AttributeChange, Change, DriftItem, Fingerprint and Plan (frozen values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lorainfra.config.model import frozen_mapping
from lorainfra.errors import Diagnostic
from lorainfra.state.backend import LockInfo


class Action(StrEnum):
    """What apply does to one resource."""

    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return {"no-op": " ", "create": "+", "update": "~", "replace": "-/+", "delete": "-"}[self.value]


@dataclass(frozen=True)
class AttributeChange:
    """One attribute's before and after; ``forces_replacement`` when it cannot change in place."""

    name: str
    before: Any
    after: Any
    forces_replacement: bool = False
    reset: bool = False  # removed from the config: back to the server's default (``after`` is None)
    # removed from the config, but Fireworks cannot reset it: the live value stays, only the state forgets it
    kept: bool = False

    @property
    def sent(self) -> bool:
        """Whether applying this change sends anything to Fireworks (a kept value is not sent)."""
        return not self.kept


@dataclass(frozen=True)
class Change:
    """The planned action for one address."""

    address: str
    kind: str
    action: Action
    attributes: tuple[AttributeChange, ...] = ()
    before: Mapping[str, Any] | None = None  # live attributes (None when nothing is live)
    after: Mapping[str, Any] | None = None  # desired attributes (None for delete)
    remote_name: str = ""  # live object, when there is one
    depends_on: tuple[str, ...] = ()
    reason: str = ""  # display only; never branched on
    # a replacement that loads the new object before the old one goes (else the old one goes first)
    create_first: bool = False
    gap: str = ""  # display only: why a replacement is not create-first, and what is unserved meanwhile
    adopts: bool = False  # the live object exists but the state does not know it: apply takes it over
    # why adopting is refused for this resource ("" when allowed): a create that meets a live object made
    # between plan and apply (409) then fails instead of taking it over (engine/planner.py ``adoption_refusal``)
    adoption_refused: str = ""
    # deletes the old copy an interrupted create-before-destroy replacement left (the address is
    # ``deposed_address(...)``; the state keeps the copy under ``State.deposed``)
    deposed: bool = False

    @property
    def symbol(self) -> str:
        return "+/-" if self.action is Action.REPLACE and self.create_first else self.action.symbol

    @property
    def replace_paths(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes if a.forces_replacement)


def deposed_address(address: str, remote_name: str) -> str:
    """The plan address of a deposed copy of ``address`` (unique per copy: one change per address)."""
    return f"{address} (deposed {remote_name.rsplit('/', 1)[-1]})"


@dataclass(frozen=True)
class DriftItem:
    """A change made outside lorainfra: an attribute edited, or the object gone."""

    address: str
    kind: str  # "changed" | "vanished"
    attribute: str = ""
    expected: Any = None
    live: Any = None


@dataclass(frozen=True)
class Fingerprint:
    """What a plan was made from; a saved plan is stale once any of it changes."""

    lineage: str = ""
    serial: int = 0
    config_digest: str = ""
    observed_digest: str = ""


@dataclass(frozen=True)
class Plan:
    """All changes (sorted by address), the drift, and the unmanaged live objects."""

    changes: tuple[Change, ...]
    drift: tuple[DriftItem, ...] = ()
    unmanaged: tuple[str, ...] = ()
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    errors: tuple[Diagnostic, ...] = ()
    observed_digests: Mapping[str, str] = field(default_factory=frozen_mapping)
    destroy: bool = False
    targets: tuple[str, ...] = ()  # --target addresses: a partial plan (said in a banner, kept in saved plans)
    # another run held the state lock while this plan was made: who and since when, and the
    # (address, operation) pairs its pending markers say it is changing (never called drift)
    lock: LockInfo | None = None
    in_flight: tuple[tuple[str, str], ...] = ()
    # Terraform's refresh-only mode: no live object is changed; applying accepts the drift into the state
    refresh_only: bool = False

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        """Something to apply: live changes, or, for a refresh-only plan, drift to accept into the state."""
        return bool(self.drift) if self.refresh_only else bool(self.actionable)

    def counts(self) -> dict[str, int]:
        add = sum(1 for c in self.changes if c.action in (Action.CREATE, Action.REPLACE))
        change = sum(1 for c in self.changes if c.action is Action.UPDATE)
        destroy = sum(1 for c in self.changes if c.action in (Action.DELETE, Action.REPLACE))
        return {"add": add, "change": change, "destroy": destroy}
