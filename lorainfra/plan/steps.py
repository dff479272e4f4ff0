"""Steps: the operations that carry out a plan and what each waits for (pure; built without side effects).

A plan's change becomes one or two steps: a create or an update, and a delete for a delete or a
replace (the create of a replacement waits for the delete of the old object, or, create-before-destroy,
the delete of the old object waits for the new one to be ready). Creates and updates
follow the plan's dependencies; deletes go the other way (a LoRA is unloaded before its deployment
is deleted). Built in time linear in the changes and their dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lorainfra.plan.model import Action, Plan
from lorainfra.state.model import State


class Op(StrEnum):
    """What one step does to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, order=True)
class Step:
    """One operation on one address."""

    op: Op
    address: str

    @property
    def label(self) -> str:
        return f"{self.address} ({self.op})"

    def sort_key(self) -> str:
        """Order of starting among steps that are ready at once: by operation, then address."""
        return f"{self.op}\0{self.address}"

    def __str__(self) -> str:
        return self.label


Steps = Mapping[Step, tuple[Step, ...]]


def build_steps(plan: Plan, state: State) -> dict[Step, tuple[Step, ...]]:
    """Every step of ``plan`` and the steps it waits for, sorted (deterministic)."""
    changes = {c.address: c for c in plan.actionable}
    forward: dict[str, Step] = {}
    deletes: dict[str, Step] = {}
    after: dict[Step, set[Step]] = {}
    for address, change in changes.items():
        if change.action in (Action.DELETE, Action.REPLACE):
            deletes[address] = Step(Op.DELETE, address)
            after[deletes[address]] = set()
        if change.action in (Action.CREATE, Action.UPDATE, Action.REPLACE):
            forward[address] = Step(Op.UPDATE if change.action is Action.UPDATE else Op.CREATE, address)
            after[forward[address]] = set()
            if address in deletes and change.create_first:
                after[deletes[address]].add(forward[address])  # the old object goes once the new one is ready
            elif address in deletes:
                after[forward[address]].add(deletes[address])
    for address, step in forward.items():
        for dep in changes[address].depends_on:
            if dep in forward:
                after[step].add(forward[dep])
    for address, step in deletes.items():
        # whatever this one depended on (in the plan or as recorded) is deleted after it
        recorded = state.resources.get(address)
        for dep in set(changes[address].depends_on) | set(recorded.dependencies if recorded else ()):
            if dep in deletes and dep != address:
                after[deletes[dep]].add(step)
    return {step: tuple(sorted(waits)) for step, waits in sorted(after.items())}
