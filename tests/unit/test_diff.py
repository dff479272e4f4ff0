"""Diff and action choice, table-driven (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from lorainfra.addresses import Address
from lorainfra.config.model import Lifecycle, Resource, frozen_mapping
from lorainfra.errors import Span
from lorainfra.kinds.registry import kind_of
from lorainfra.live import Observed, RemoteObject
from lorainfra.plan.diff import diff, drift, unmanaged
from lorainfra.plan.model import Action
from lorainfra.state.model import ResourceState, State

ACCT = "acme"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def dep_name(i: str) -> str:
    return f"accounts/{ACCT}/deployments/{i}"


def deployment(name: str = "base", lifecycle: Lifecycle | None = None, **attrs: Any) -> Resource:
    values = {"base_model": BASE, "display_name": "", "description": "", "min_replica_count": 1,
              "max_replica_count": 2, "enable_addons": True, "accelerator_type": "NVIDIA_H100_80GB"}
    values.update(attrs)
    return Resource(Address("deployment", name), frozen_mapping(values), Span("d.yaml", 2, 3),
                    lifecycle=lifecycle or Lifecycle())


def lora(name: str = "bot", dep: str = "base", **attrs: Any) -> Resource:
    values = {"model": f"accounts/{ACCT}/models/{name}", "deployment": dep, "serverless": False,
              "display_name": "", "description": ""}
    values.update(attrs)
    return Resource(Address("lora", name), frozen_mapping(values), Span("l.yaml", 2, 3),
                    depends_on=(Address("deployment", dep),))


def live_of(res: Resource, name: str, state: str, **overrides: Any) -> RemoteObject:
    attrs = dict(res.attributes)
    attrs.update(overrides)
    return kind_of(res.kind).observe(name, state, attrs)


def observed(*objs: RemoteObject) -> Observed:
    return Observed(frozen_mapping({o.name: o for o in objs}))


def managed(res: Resource, name: str) -> ResourceState:
    return ResourceState(str(res.address), res.kind, name, res.attributes, tuple(str(d) for d in res.depends_on))


def state_with(*entries: ResourceState) -> State:
    s = State.new("lin")
    for e in entries:
        s = s.with_resource(e)
    return s


D = deployment()
L = lora()
DLIVE = dep_name("base")
LLIVE = f"accounts/{ACCT}/deployedModels/x1"


@pytest.mark.parametrize(
    ("desired", "state", "live", "expected"),
    [
        # nothing anywhere -> create
        ({D.address: D}, state_with(), observed(), {"deployment.base": Action.CREATE}),
        # managed and identical -> no-op
        ({D.address: D}, state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "READY")),
         {"deployment.base": Action.NOOP}),
        # server-computed attribute left unset in config never diffs
        ({D.address: deployment(max_replica_count=2)}, state_with(managed(D, DLIVE)),
         observed(live_of(D, DLIVE, "READY", accelerator_count=8)), {"deployment.base": Action.NOOP}),
        # replicas changed -> in-place update
        ({D.address: deployment(min_replica_count=2)}, state_with(managed(D, DLIVE)),
         observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.UPDATE}),
        # base model changed -> replace
        ({D.address: deployment(base_model="accounts/fireworks/models/other")}, state_with(managed(D, DLIVE)),
         observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.REPLACE}),
        # in state, not in config -> delete
        ({}, state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.DELETE}),
        # in state, vanished live -> create again
        ({D.address: D}, state_with(managed(D, DLIVE)), observed(), {"deployment.base": Action.CREATE}),
        # FAILED live object -> replace
        ({D.address: D}, state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "FAILED")),
         {"deployment.base": Action.REPLACE}),
        # soft-deleted live object counts as gone
        ({D.address: D}, state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "DELETED")),
         {"deployment.base": Action.CREATE}),
        # a LoRA being unloaded outside lorainfra counts as gone: loaded again
        ({D.address: D, L.address: L}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
         observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "UNDEPLOYING")),
         {"deployment.base": Action.NOOP, "lora.bot": Action.CREATE}),
        # a LoRA load that stopped in STATE_UNSPECIFIED with an error is failed: replaced
        ({D.address: D, L.address: L}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
         observed(live_of(D, DLIVE, "READY"), kind_of("lora").observe(LLIVE, "STATE_UNSPECIFIED",
                                                           L.attributes, status_message="failed to load")),
         {"deployment.base": Action.NOOP, "lora.bot": Action.REPLACE}),
        # lora on a replaced deployment is replaced too
        ({D.address: deployment(base_model="accounts/fireworks/models/other"), L.address: L},
         state_with(managed(D, DLIVE), managed(L, LLIVE)),
         observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")),
         {"deployment.base": Action.REPLACE, "lora.bot": Action.REPLACE}),
        # lora display name -> update in place
        ({D.address: D, L.address: lora(display_name="Bot")}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
         observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")),
         {"deployment.base": Action.NOOP, "lora.bot": Action.UPDATE}),
        # lora moved to serverless -> replace
        ({D.address: D, L.address: lora(deployment="", serverless=True)},
         state_with(managed(D, DLIVE), managed(L, LLIVE)),
         observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")),
         {"deployment.base": Action.NOOP, "lora.bot": Action.REPLACE}),
        # ignore_changes hides a difference
        ({D.address: deployment(min_replica_count=3, lifecycle=Lifecycle(ignore_changes=("min_replica_count",)))},
         state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.NOOP}),
        # shape compared by prefix (server stores the resolved version)
        ({D.address: deployment(deployment_shape="accounts/fireworks/deploymentShapes/s1")},
         state_with(managed(D, DLIVE)),
         observed(live_of(D, DLIVE, "READY", deployment_shape="accounts/fireworks/deploymentShapes/s1/versions/3")),
         {"deployment.base": Action.NOOP}),
        # live but not in state -> create (apply adopts)
        ({D.address: D}, state_with(), observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.CREATE}),
        # float/int equality
        ({D.address: deployment(min_replica_count=1.0)}, state_with(managed(D, DLIVE)),
         observed(live_of(D, DLIVE, "READY")), {"deployment.base": Action.NOOP}),
    ],
)
def test_action_choice(desired: dict[Address, Resource], state: State, live: Observed, expected: dict[str, Action]) -> None:
    changes = diff(desired, state, live, ACCT)
    assert {c.address: c.action for c in changes} == expected


def test_replace_marks_the_forcing_attribute() -> None:
    changes = diff({D.address: deployment(base_model="accounts/fireworks/models/other", min_replica_count=3)},
                   state_with(managed(D, DLIVE)), observed(live_of(D, DLIVE, "READY")), ACCT)
    (change,) = changes
    assert change.replace_paths == ("base_model",)
    assert {a.name for a in change.attributes} == {"base_model", "min_replica_count"}


def test_forced_replace_and_destroy_mode() -> None:
    st = state_with(managed(D, DLIVE), managed(L, LLIVE))
    obs = observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED"))
    forced = diff({D.address: D, L.address: L}, st, obs, ACCT, replace=["lora.bot"])
    assert [c.action for c in forced] == [Action.NOOP, Action.REPLACE]
    gone = diff({D.address: D, L.address: L}, st, obs, ACCT, destroy=True)
    assert [c.action for c in gone] == [Action.DELETE, Action.DELETE]


def test_output_sorted_by_address() -> None:
    res = {r.address: r for r in (deployment("b"), deployment("a"), lora("z", "a"), lora("c", "b"))}
    changes = diff(res, state_with(), observed(), ACCT)
    assert [c.address for c in changes] == sorted(c.address for c in changes)


def test_drift_is_live_vs_last_applied_not_config() -> None:
    st = state_with(managed(D, DLIVE), managed(L, LLIVE))
    obs = observed(live_of(D, DLIVE, "READY", min_replica_count=5))
    items = drift(st, obs)
    assert [(i.address, i.kind, i.attribute) for i in items] == [
        ("deployment.base", "changed", "min_replica_count"), ("lora.bot", "vanished", "")]
    assert items[0].expected == 1 and items[0].live == 5


def test_unmanaged_lists_unknown_live_objects_only() -> None:
    st = state_with(managed(D, DLIVE))
    obs = observed(live_of(D, DLIVE, "READY"), live_of(deployment("hand"), dep_name("hand"), "READY"),
                   live_of(deployment("old"), dep_name("old"), "DELETED"))
    assert unmanaged(st, obs) == (dep_name("hand"),)


def test_undeploying_lora_is_vanished_drift_and_not_found() -> None:
    st = state_with(managed(D, DLIVE), managed(L, LLIVE))
    obs = observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "UNDEPLOYING"))
    assert [(i.address, i.kind) for i in drift(st, obs)] == [("lora.bot", "vanished")]
    assert kind_of("lora").find({"model": f"accounts/{ACCT}/models/bot", "deployment": "base"}, obs) is None
    # a new copy of the same identity loading beside the old one being unloaded is found
    fresh = live_of(L, f"accounts/{ACCT}/deployedModels/x2", "DEPLOYING")
    both = observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "UNDEPLOYING"), fresh)
    assert kind_of("lora").find({"model": f"accounts/{ACCT}/models/bot", "deployment": "base"}, both) == fresh


@pytest.mark.parametrize(
    ("kind", "state", "message", "gone", "failed"),
    [
        ("deployment", "READY", "", False, False),
        ("deployment", "DELETING", "", True, False),
        ("deployment", "DELETED", "", True, False),
        ("deployment", "FAILED", "", False, True),
        ("lora", "DEPLOYED", "", False, False),
        ("lora", "UNDEPLOYING", "", True, False),
        ("lora", "DEPLOYING", "still loading", False, False),
        ("lora", "STATE_UNSPECIFIED", "failed to load model", False, True),
        ("lora", "STATE_UNSPECIFIED", "", False, False),
    ],
)
def test_gone_and_failed_states_per_kind(kind: str, state: str, message: str, gone: bool, failed: bool) -> None:
    obj = kind_of(kind).observe("accounts/acme/x/y", state, status_message=message)
    assert (obj.gone, obj.failed) == (gone, failed)


def test_accelerator_type_forces_replacement_and_addons_update_in_place_with_a_note() -> None:
    # issue 10 item 3: "accelerator type cannot be changed for existing deployments" (Build SDK); enableAddons
    # goes through the update mask, and turning it off unloads the LoRAs on the deployment
    moved = diff({D.address: deployment(accelerator_type="NVIDIA_H200_141GB")}, state_with(managed(D, DLIVE)),
                 observed(live_of(D, DLIVE, "READY")), ACCT)
    assert [(c.action, c.replace_paths) for c in moved] == [(Action.REPLACE, ("accelerator_type",))]
    off = diff({D.address: deployment(enable_addons=False)}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
               observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")), ACCT)
    change = next(c for c in off if c.address == "deployment.base")
    assert change.action is Action.UPDATE
    assert change.reason == ("addons turned off: Fireworks unloads every LoRA loaded on this deployment "
                             "(managed here: lora.bot)")
    on = diff({D.address: deployment(enable_addons=True)}, state_with(managed(D, DLIVE)),
              observed(live_of(D, DLIVE, "READY", enable_addons=False)), ACCT)
    assert [(c.action, c.reason) for c in on] == [(Action.UPDATE, "")]


def test_display_name_and_description_are_compared_only_when_set() -> None:
    # issue 10 item 8: the server may fill them in; an unset desired value never diffs
    values = {k: v for k, v in D.attributes.items() if k not in ("display_name", "description")}
    unset = Resource(D.address, frozen_mapping(values), D.span)
    changes = diff({D.address: unset}, state_with(managed(unset, DLIVE)),
                   observed(live_of(D, DLIVE, "READY", display_name="Llama base", description="filled in")), ACCT)
    assert [c.action for c in changes] == [Action.NOOP]
    assert "display_name" not in kind_of("deployment").from_wire({"name": DLIVE}, account=ACCT).attributes


# ---------------------------------------------------------------- replacement order (issue 12, point 1)
def _replace_order(desired: dict[Address, Resource], st: State, live: Observed) -> dict[str, tuple[bool, str]]:
    return {c.address: (c.create_first, c.gap) for c in diff(desired, st, live, ACCT) if c.action is Action.REPLACE}


def test_lora_version_bump_is_created_before_the_old_copy_is_unloaded() -> None:
    bumped = lora(model=f"accounts/{ACCT}/models/bot-v2")
    got = _replace_order({D.address: D, L.address: bumped}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
                         observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")))
    assert got == {"lora.bot": (True, "")}


def test_lora_move_to_another_deployment_is_created_first() -> None:
    other = deployment("other")
    moved = lora(dep="other")
    got = _replace_order(
        {D.address: D, other.address: other, L.address: moved}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
        observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED")))
    assert got == {"lora.bot": (True, "")}


def test_same_model_on_the_same_deployment_falls_back_to_destroy_first_and_says_the_gap() -> None:
    # a failed load is replaced by the same model on the same deployment: it cannot be loaded twice
    failed = kind_of("lora").observe(LLIVE, "STATE_UNSPECIFIED", L.attributes, status_message="failed to load")
    got = _replace_order({D.address: D, L.address: L}, state_with(managed(D, DLIVE), managed(L, LLIVE)),
                         observed(live_of(D, DLIVE, "READY"), failed))
    create_first, gap = got["lora.bot"]
    assert create_first is False
    assert "the same model on deployment.base cannot be loaded twice" in gap
    assert "lora.bot is unavailable from the delete until the new one is DEPLOYED" in gap


def test_a_full_target_deployment_falls_back_to_destroy_first() -> None:
    other = deployment("other")
    full = [live_of(lora(f"x{i}", dep="other"), f"accounts/{ACCT}/deployedModels/f{i}", "DEPLOYED") for i in range(100)]
    got = _replace_order(
        {D.address: D, other.address: other, L.address: lora(dep="other")},
        state_with(managed(D, DLIVE), managed(L, LLIVE)),
        observed(live_of(D, DLIVE, "READY"), live_of(other, dep_name("other"), "READY"),
                 live_of(L, LLIVE, "DEPLOYED"), *full))
    assert got["lora.bot"][0] is False
    assert "deployment.other already holds 100 LoRAs (at most 100)" in got["lora.bot"][1]


def test_a_deployment_replacement_names_the_loras_that_go_dark_with_it() -> None:
    L2 = lora("bot2")
    L2LIVE = f"accounts/{ACCT}/deployedModels/x2"
    got = _replace_order(
        {D.address: deployment(base_model="accounts/fireworks/models/other"), L.address: L, L2.address: L2},
        state_with(managed(D, DLIVE), managed(L, LLIVE), managed(L2, L2LIVE)),
        observed(live_of(D, DLIVE, "READY"), live_of(L, LLIVE, "DEPLOYED"), live_of(L2, L2LIVE, "DEPLOYED")))
    dep_first, dep_gap = got["deployment.base"]
    assert dep_first is False
    assert dep_gap.endswith("these go dark with it until it is READY and they are DEPLOYED again: lora.bot, lora.bot2")
    assert "deployment ID names one live object" in dep_gap
    # its LoRAs cannot be loaded before the new deployment exists: destroyed first too, and said why
    assert got["lora.bot"][0] is False and "deployment.base is destroyed before it is created again" in got["lora.bot"][1]


def test_a_removed_key_is_reset_or_kept_as_its_spec_says() -> None:
    applied = deployment(max_context_length=4096)
    live = live_of(applied, dep_name("base"), "READY")
    desired = deployment()
    desired = Resource(desired.address, frozen_mapping({k: v for k, v in desired.attributes.items()
                                                        if k != "max_replica_count"}), desired.span)
    (change,) = diff({desired.address: desired}, state_with(managed(applied, dep_name("base"))),
                     observed(live), ACCT)
    assert change.action is Action.UPDATE
    by_name = {a.name: a for a in change.attributes}
    # max_context_length: resettable (0 / absent = the model's default); max_replica_count: not (0 scales to zero)
    assert (by_name["max_context_length"].reset, by_name["max_context_length"].kept) == (True, False)
    assert (by_name["max_replica_count"].reset, by_name["max_replica_count"].kept) == (False, True)
    assert by_name["max_replica_count"].before == 2 and not by_name["max_replica_count"].sent


def test_a_change_of_kept_values_only_says_nothing_is_sent() -> None:
    applied = deployment()
    live = live_of(applied, dep_name("base"), "READY")
    desired = Resource(applied.address, frozen_mapping({k: v for k, v in applied.attributes.items()
                                                        if k != "max_replica_count"}), applied.span)
    (change,) = diff({desired.address: desired}, state_with(managed(applied, dep_name("base"))),
                     observed(live), ACCT)
    assert change.action is Action.UPDATE and change.reason == "only the state changes: nothing is sent to Fireworks"
    from lorainfra.plan.jsonplan import plan_from_json, plan_to_json
    from lorainfra.plan.model import Plan

    again = plan_from_json(plan_to_json(Plan(changes=(change,))))  # a saved plan keeps it
    assert again.changes[0].attributes == change.attributes
