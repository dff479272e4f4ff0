"""Issue 10 item 5, pure: what the plan says about a create whose ID a soft-deleted object holds."""

from __future__ import annotations

from lorainfra.kinds.registry import kind_of
from lorainfra.plan.diff import diff
from lorainfra.plan.model import Action
from lorainfra.state.model import State
from tests.unit.test_diff import ACCT, deployment, live_of, observed

NAME = f"accounts/{ACCT}/deployments/base"


def reason(live_state: str, **held: object) -> tuple[Action, str]:
    desired = deployment()
    (change,) = diff({desired.address: desired}, State.new("lin"), observed(live_of(desired, NAME, live_state, **held)),
                     ACCT)
    return change.action, change.reason


def test_a_soft_deleted_deployment_that_fits_is_undeleted_and_updated() -> None:
    # max_replica_count differs: an in-place update after the undelete
    assert reason("DELETED", max_replica_count=5) == (
        Action.CREATE, f"the ID is held by a soft-deleted deployment ({NAME}); apply undeletes it and updates it")


def test_one_that_differs_in_an_attribute_forcing_replacement_is_hard_deleted_and_created() -> None:
    action, text = reason("DELETED", accelerator_type="NVIDIA_A100_80GB")
    assert action is Action.CREATE
    assert text == (f"the ID is held by a soft-deleted deployment ({NAME}) that cannot become the config in place; "
                    "apply deletes it for good (hard delete), waits until it is gone (404) and creates it again")


def test_an_object_being_deleted_holds_nothing_yet_and_a_lora_has_no_undelete() -> None:
    assert reason("DELETING") == (Action.CREATE, "")  # DELETING ends in DELETED or 404: the create then learns (409)
    lora = kind_of("lora")
    assert lora.undelete_request("accounts/acme/deployedModels/x") is None
    assert not lora.holds_id(lora.observe("accounts/acme/deployedModels/x", "UNDEPLOYING"))
    assert not lora.undelete_fits({}, {})
