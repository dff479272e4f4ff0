"""Steps: what each plan action becomes, and what each step waits for (a table per case)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lorainfra.plan.model import Action, Change, Plan
from lorainfra.plan.steps import Op, Step, build_steps
from lorainfra.state.model import ResourceState, State

C, U, D = Op.CREATE, Op.UPDATE, Op.DELETE


def change(address: str, action: Action, *deps: str) -> Change:
    return Change(address, address.split(".")[0], action, depends_on=deps)


def recorded(address: str, *deps: str) -> ResourceState:
    return ResourceState(address, address.split(".")[0], f"accounts/a/x/{address}", dependencies=deps)


def steps_of(changes: list[Change], *entries: ResourceState) -> dict[tuple[str, str], list[tuple[str, str]]]:
    state = State.new("lin")
    for entry in entries:
        state = state.with_resource(entry)
    built = build_steps(Plan(tuple(sorted(changes, key=lambda c: c.address))), state)
    return {(s.op.value, s.address): [(w.op.value, w.address) for w in waits] for s, waits in built.items()}


@pytest.mark.parametrize(("changes", "entries", "expected"), [
    # nothing to do: no steps
    ([change("deployment.a", Action.NOOP)], (), {}),
    # create: a LoRA's load waits for its deployment's create
    ([change("deployment.a", Action.CREATE), change("lora.l", Action.CREATE, "deployment.a")], (),
     {(C, "deployment.a"): [], (C, "lora.l"): [(C, "deployment.a")]}),
    # update in place; a dependency not in the plan is not waited for
    ([change("lora.l", Action.UPDATE, "deployment.a")], (), {(U, "lora.l"): []}),
    # create before destroy (a LoRA's default): the old object is deleted once the new one is ready
    ([replace(change("lora.l", Action.REPLACE), create_first=True)], (),
     {(C, "lora.l"): [], (D, "lora.l"): [(C, "lora.l")]}),
    # a LoRA moved (created first) off a deployment that is deleted: load, unload, then delete
    ([replace(change("lora.l", Action.REPLACE, "deployment.b"), create_first=True),
      change("deployment.a", Action.DELETE), change("deployment.b", Action.CREATE)],
     (recorded("lora.l", "deployment.a"),),
     {(C, "deployment.b"): [], (C, "lora.l"): [(C, "deployment.b")], (D, "lora.l"): [(C, "lora.l")],
      (D, "deployment.a"): [(D, "lora.l")]}),
    # replace: the new object is created after the old one is deleted
    ([change("deployment.a", Action.REPLACE)], (), {(D, "deployment.a"): [], (C, "deployment.a"): [(D, "deployment.a")]}),
    # a replaced deployment with its LoRA replaced too: unload, delete, create, load
    ([change("deployment.a", Action.REPLACE), change("lora.l", Action.REPLACE, "deployment.a")], (),
     {(C, "deployment.a"): [(D, "deployment.a")],
      (C, "lora.l"): [(C, "deployment.a"), (D, "lora.l")],
      (D, "deployment.a"): [(D, "lora.l")],
      (D, "lora.l"): []}),
    # destroy: LoRAs are unloaded before their deployment is deleted (dependencies as recorded in state)
    ([change("deployment.a", Action.DELETE), change("lora.l", Action.DELETE), change("lora.m", Action.DELETE)],
     (recorded("deployment.a"), recorded("lora.l", "deployment.a"), recorded("lora.m", "deployment.a")),
     {(D, "deployment.a"): [(D, "lora.l"), (D, "lora.m")], (D, "lora.l"): [], (D, "lora.m"): []}),
    # a delete only waits for deletes: a LoRA kept by the plan does not hold its deployment's delete
    ([change("deployment.a", Action.DELETE)], (recorded("deployment.a"), recorded("lora.l", "deployment.a")),
     {(D, "deployment.a"): []}),
    # a dependency on itself is never a wait
    ([change("deployment.a", Action.DELETE, "deployment.a")], (), {(D, "deployment.a"): []}),
])
def test_steps_table(changes: list[Change], entries: tuple[ResourceState, ...],
                     expected: dict[tuple[str, str], list[tuple[str, str]]]) -> None:
    assert steps_of(changes, *entries) == expected


def test_steps_are_sorted_and_labelled() -> None:
    built = build_steps(Plan((change("deployment.b", Action.CREATE), change("deployment.a", Action.REPLACE))), State.new("x"))
    assert list(built) == sorted(built)
    assert [s.label for s in built] == ["deployment.a (create)", "deployment.b (create)", "deployment.a (delete)"]
    assert Step(Op.CREATE, "x").sort_key() < Step(Op.DELETE, "a").sort_key()


class CountingResources(dict):  # type: ignore[type-arg]
    """State resources that count lookups (the old build looked up every pair of deletes: n^2)."""

    lookups = 0

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        CountingResources.lookups += 1
        return super().get(key, default)


def test_build_is_linear_in_the_deletes() -> None:
    """A destroy of a fleet: each delete looks up its own record once, and each LoRA is linked to its
    deployment once (no all-pairs scan)."""
    n = 2000
    changes = [change("deployment.base", Action.DELETE)]
    entries = {"deployment.base": recorded("deployment.base")}
    for i in range(n):
        changes.append(change(f"lora.l{i:05d}", Action.DELETE))
        entries[f"lora.l{i:05d}"] = recorded(f"lora.l{i:05d}", "deployment.base")
    state = replace(State.new("lin"), resources=CountingResources(entries))
    CountingResources.lookups = 0
    built = build_steps(Plan(tuple(changes)), state)
    assert len(built[Step(Op.DELETE, "deployment.base")]) == n
    assert CountingResources.lookups <= n + 1
