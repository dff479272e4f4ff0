"""Changing a running fleet (issue 12): each test is one of the issue's numbered points, against the
in-process emulator, failing on the code before the fix."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from lorainfra.cli.context import open_workspace
from lorainfra.cli.render import render_plan
from lorainfra.config.loader import load_config
from lorainfra.engine.events import ListSink
from lorainfra.engine.planner import PlanOptions
from lorainfra.engine.session import SessionOptions, SessionResult, apply_session
from lorainfra.errors import ConfigError
from lorainfra.plan.model import Action, Plan
from lorainfra.plan.planfile import read_plan_file
from tests.e2e.helpers import cli
from tests.lifecycle.test_lifecycle import ENV, FAST, apply, live_objects, plan
from tests.models.adapters import BASE as ADAPTER_BASE
from tests.models.adapters import write_adapter


def rename_faq_bot(folder: Path, moved: str = "") -> None:
    loras = folder / "loras.yaml"
    loras.write_text(loras.read_text().replace("  faq-bot:\n", "  faq:\n") + moved)


# ---------------------------------------------------------------- point 1: LoRA replacement without an outage
def test_point1_a_version_bump_loads_the_new_copy_before_unloading_the_old(quickstart: Path) -> None:
    seed = quickstart / "models.json"
    seed.write_text(json.dumps({"models": [
        {"name": "accounts/quickstart/models/faq-bot-v2", "kind": "HF_PEFT_ADDON", "state": "READY",
         "peftDetails": {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "r": 8,
                         "targetModules": ["q_proj", "v_proj"]}}]}))
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("  emulator:\n", "  emulator:\n    seed: models.json\n"))
    assert apply(quickstart).ok
    loras = quickstart / "loras.yaml"
    loras.write_text(loras.read_text().replace("faq-bot-v1", "faq-bot-v2"))
    planned = plan(quickstart)
    (change,) = [c for c in planned.plan.actionable if c.address == "lora.faq-bot"]
    assert change.action is Action.REPLACE and change.create_first and change.gap == ""
    text = render_plan(planned.plan)
    assert '+/- lora "faq-bot"' in text and "create before destroy" in text
    old = change.remote_name
    result = apply(quickstart)
    assert result.ok, (result.failed, result.skipped)
    # the create ran (and finished) before the delete: the journal recorded the new object, the delete
    # of the old one did not forget it
    recorded = result.state.resources["lora.faq-bot"]
    assert recorded.remote_name != old and recorded.attributes["model"] == "accounts/quickstart/models/faq-bot-v2"
    assert old not in live_objects(quickstart)
    assert plan(quickstart).plan.has_changes is False


# ---------------------------------------------------------------- point 2: a rename
def test_point2_a_rename_without_a_moved_block_stops_with_the_hint(quickstart: Path) -> None:
    assert apply(quickstart).ok
    before = live_objects(quickstart)
    rename_faq_bot(quickstart)
    planned = plan(quickstart)
    (error,) = planned.plan.errors
    assert "lora.faq would adopt" in error.message and "while lora.faq-bot destroys it: this looks like a rename" in error.message
    assert error.hint == "add to the config: moved: [{from: lora.faq-bot, to: lora.faq}]"
    assert live_objects(quickstart) == before


def test_point2_a_moved_block_renames_in_the_state_and_touches_no_live_object(quickstart: Path) -> None:
    first = apply(quickstart)
    old = first.state.resources["lora.faq-bot"]
    before = live_objects(quickstart)
    rename_faq_bot(quickstart, "\nmoved:\n  - {from: lora.faq-bot, to: lora.faq}\n")
    planned = plan(quickstart)
    assert planned.plan.errors == () and planned.plan.has_changes is False
    assert "lora.faq-bot has moved to lora.faq (moved block): the state follows; no live object is touched" in planned.notes
    result = apply(quickstart)
    assert result.ok and "lora.faq-bot" not in result.state.resources
    assert result.state.resources["lora.faq"].remote_name == old.remote_name
    assert live_objects(quickstart) == before
    again = plan(quickstart)  # the moved block may stay: it was carried out
    assert again.plan.has_changes is False and again.plan.errors == () and again.notes == ()


def test_point2_a_removed_block_forgets_without_unloading(quickstart: Path) -> None:
    apply(quickstart)
    before = live_objects(quickstart)
    loras = quickstart / "loras.yaml"
    text = loras.read_text()
    start = text.index("  faq-bot:")
    end = text.index("\n\n", start)
    loras.write_text(text[:start] + text[end + 2:] + "\nremoved:\n  - from: lora.faq-bot\n")
    result = apply(quickstart)
    assert result.ok and "lora.faq-bot" not in result.state.resources
    assert live_objects(quickstart) == before  # still loaded, only forgotten
    assert [c.address for c in plan(quickstart).plan.actionable] == []


@pytest.mark.parametrize(("block", "message"), [
    ("moved:\n  - {from: deployment.shared-base, to: deployment.base}\n",
     "a deployment's name is its Fireworks deployment ID, so deployment.base would be another object (base)"),
    ("moved:\n  - {from: lora.faq-bot, to: lora.faq}\n", "moved to lora.faq, which is not declared"),
    ("moved:\n  - {from: lora.support-bot, to: lora.other}\n", "lora.support-bot is still declared at loras.yaml:"),
    ("moved:\n  - {from: lora.x, to: deployment.base}\n", "a lora cannot become a deployment"),
    ("removed:\n  - from: lora.other\n", "lora.other is still declared at loras.yaml:"),
    ("removed:\n  - from: dataset.x\n", "invalid address 'dataset.x'"),
])
def test_point3_moved_and_removed_blocks_are_checked(quickstart: Path, block: str, message: str) -> None:
    (quickstart / "moves.yaml").write_text(block)
    # the source of a move is no longer declared
    deployments, loras = quickstart / "deployments.yaml", quickstart / "loras.yaml"
    deployments.write_text(deployments.read_text().replace("  shared-base:\n", "  base:\n"))
    loras.write_text(loras.read_text().replace("deployment: shared-base", "deployment: base")
                     .replace("  faq-bot:\n", "  other:\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(quickstart)
    rendered = [f"{d.span}: {d.message}" for d in caught.value.diagnostics]
    assert any(message in line and "moves.yaml:2" in line for line in rendered), rendered


def test_point3_state_mv_refuses_to_change_a_deployment_id(quickstart: Path) -> None:
    assert apply(quickstart).ok
    r = cli("state", "mv", "deployment.shared-base", "deployment.base", "--dir", str(quickstart))
    assert r.code == 1 and "name is its Fireworks deployment ID" in r.err and "Traceback" not in r.err
    assert "deployment.shared-base" in cli("state", "list", "--dir", str(quickstart)).out


# ---------------------------------------------------------------- point 9: adoption is said
def test_point9_adopting_a_differing_live_object_is_called_out_and_can_be_refused(quickstart: Path) -> None:
    assert apply(quickstart).ok
    assert cli("state", "rm", "deployment.sql-helper", "--dir", str(quickstart)).code == 0
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace("SQL helper (live merge)", "SQL helper v2"))
    planned = plan(quickstart)
    (change,) = [c for c in planned.plan.actionable if c.address == "deployment.sql-helper"]
    assert change.adopts and change.action is Action.UPDATE
    assert "exists live but not in state and differs: apply adopts it, then updates it in place" in render_plan(planned.plan)
    deployments.write_text(deployments.read_text().replace(
        "  sql-helper:\n", "  sql-helper:\n    lifecycle: {adopt: false}\n"))
    (error,) = plan(quickstart).plan.errors
    assert "deployment.sql-helper: accounts/quickstart/deployments/sql-helper exists live but not in the state, " \
           "and lifecycle.adopt is false" in error.message
    assert error.span.file == f"{quickstart}/deployments.yaml"  # the folder as the CLI was given it


# ---------------------------------------------------------------- point 8: targets are checked
def test_point8_an_unknown_target_or_replace_is_an_error_with_did_you_mean(quickstart: Path) -> None:
    q = str(quickstart)
    typo = cli("plan", q, "--target", "deployment.lama-base")
    assert typo.code == 1 and "No changes" not in typo.out, typo
    assert "--target deployment.lama-base: no such resource in the config or the state" in typo.err
    bad = cli("plan", q, "--target", "deployment.shared-bse")
    assert "did you mean 'deployment.shared-base'?" in bad.err and bad.code == 1
    rep = cli("plan", q, "--replace", "lora.faq-bt")
    assert rep.code == 1 and "--replace lora.faq-bt" in rep.err and "did you mean 'lora.faq-bot'?" in rep.err
    assert "Traceback" not in typo.err + bad.err + rep.err


def test_point8_a_targeted_plan_warns_and_a_saved_one_keeps_its_targets(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    planned = cli("plan", q, "--target", "lora.faq-bot")
    assert planned.code == 0, planned.err
    assert planned.out.startswith("Warning: resource targeting is in effect: lora.faq-bot\n"), planned.out
    saved = tmp_path / "targeted.plan"
    assert cli("plan", q, "--target", "lora.faq-bot", "--out", str(saved)).code == 0
    shown = cli("show", str(saved))
    assert shown.code == 0 and shown.out.startswith("Warning: resource targeting is in effect: lora.faq-bot\n")
    as_json = json.loads(cli("show", str(saved), "--json").out)
    assert as_json["targets"] == ["lora.faq-bot"]
    whole = cli("plan", q)
    assert "targeting" not in whole.out


# ---------------------------------------------------------------- points 4 and 5 of the issue text: removed keys, accelerator <-> shape
def test_removed_optional_key_is_reset_not_silent(quickstart: Path) -> None:
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace(
        "    addons: true\n", "    addons: true\n    max_context_length: 4096\n", 1))
    assert apply(quickstart).ok
    deployments.write_text(deployments.read_text().replace("    max_context_length: 4096\n", ""))
    planned = plan(quickstart)
    (change,) = planned.plan.actionable
    assert change.action is Action.UPDATE
    assert [(a.name, a.before, a.reset) for a in change.attributes] == [("max_context_length", 4096, True)]
    assert "~ max_context_length = 4096 -> (server default)" in render_plan(planned.plan)
    assert apply(quickstart).ok
    again = plan(quickstart)
    assert again.plan.has_changes is False and again.plan.drift == ()


def test_switching_accelerator_to_shape_and_back_applies(quickstart: Path) -> None:
    assert apply(quickstart).ok
    deployments = quickstart / "deployments.yaml"
    with_accel = deployments.read_text()
    deployments.write_text(with_accel.replace("    accelerator: {type: NVIDIA_A100_80GB, count: 1}\n", "    shape: default\n"))
    to_shape = apply(quickstart)
    assert to_shape.ok, to_shape.failed
    assert plan(quickstart).plan.has_changes is False
    deployments.write_text(with_accel)
    back = apply(quickstart)
    assert back.ok, back.failed
    assert plan(quickstart).plan.has_changes is False


def test_no_adopt_flag_makes_every_adoption_an_error_for_the_run(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    assert apply(quickstart).ok
    for address in ("deployment.sql-helper", "lora.faq-bot"):
        assert cli("state", "rm", address, "--dir", q).code == 0
    before = live_objects(quickstart)
    # one adoption that differs from the config, one that matches it: both refused, each at its declaration
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace("SQL helper (live merge)", "SQL helper v2"))
    for command in (("plan", q, "--no-adopt"), ("apply", q, "--no-adopt", "--auto-approve")):
        r = cli(*command)
        assert r.code == 1, r
        assert "deployment.sql-helper: accounts/quickstart/deployments/sql-helper exists live but not in the " \
               "state, and --no-adopt refuses adoption" in r.err, r.err
        assert "lora.faq-bot: accounts/quickstart/deployedModels/" in r.err and "deployments.yaml:" in r.err
        assert "run without --no-adopt" in r.err and "Traceback" not in r.err
    assert live_objects(quickstart) == before
    # a saved plan that adopts is refused by apply --no-adopt as well
    saved = tmp_path / "adopting.plan"
    assert cli("plan", q, "--out", str(saved)).code == 0
    refused = cli("apply", str(saved), "--no-adopt")
    assert refused.code == 1 and "--no-adopt refuses adoption" in refused.err, refused
    assert live_objects(quickstart) == before
    # without the flag the same plan adopts (the flag only changes that run)
    assert "apply adopts it" in cli("plan", q).out
    planned = plan(quickstart, adopt=False)
    assert sorted(e.address for e in planned.plan.errors) == ["deployment.sql-helper", "lora.faq-bot"]


def live_attributes(folder: Path, name: str) -> dict[str, object]:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> dict[str, object]:
        async with ws.provider() as provider:
            obj = (await provider.refresh()).get(name)
            assert obj is not None
            return dict(obj.attributes)

    return asyncio.run(go())


def test_a_removed_key_is_reset_on_the_live_object(quickstart: Path) -> None:
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace(
        "    addons: true\n", "    addons: true\n    max_context_length: 4096\n", 1))
    assert apply(quickstart).ok
    name = "accounts/quickstart/deployments/shared-base"
    assert live_attributes(quickstart, name)["max_context_length"] == 4096
    deployments.write_text(deployments.read_text().replace("    max_context_length: 4096\n", ""))
    assert apply(quickstart).ok
    # the update mask names the field and the body leaves it out: the server is back to its default
    assert live_attributes(quickstart, name).get("max_context_length") is None


def test_a_removed_key_fireworks_cannot_reset_is_said_and_its_live_value_stays(quickstart: Path) -> None:
    assert apply(quickstart).ok
    name = "accounts/quickstart/deployments/shared-base"
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace("replicas: {min: 1, max: 2}", "replicas: {min: 1}"))
    planned = plan(quickstart)
    (change,) = planned.plan.actionable
    assert change.action is Action.UPDATE and change.address == "deployment.shared-base"
    assert [(a.name, a.before, a.kept, a.reset) for a in change.attributes] == [("max_replica_count", 2, True, False)]
    text = render_plan(planned.plan)
    assert ("# max_replica_count: removed from config; Fireworks cannot reset it, the live value 2 stays" in text), text
    assert "only the state changes: nothing is sent to Fireworks" in text
    as_json = json.loads(cli("plan", str(quickstart), "--json").out)
    (attr,) = next(c for c in as_json["changes"] if c["address"] == "deployment.shared-base")["attributes"]
    assert attr["kept"] is True and attr["reset"] is False
    assert apply(quickstart).ok
    assert live_attributes(quickstart, name)["max_replica_count"] == 2  # not reset (the emulator would give 1)
    again = plan(quickstart)
    assert again.plan.has_changes is False and again.plan.drift == ()
    # alongside a real change, only the real one is sent
    deployments.write_text(deployments.read_text().replace("replicas: {min: 1}", "replicas: {min: 2}"))
    assert apply(quickstart).ok
    assert live_attributes(quickstart, name)["min_replica_count"] == 2
    assert plan(quickstart).plan.has_changes is False


def apply_with_object_made_meanwhile(folder: Path, kind: str, resource_id: str, attributes: dict[str, object],
                                     **plan_options: bool) -> SessionResult:
    """Plan, then (while the plan is being confirmed) create a live object through the provider, then apply:
    the object appears between plan and apply, so the applier's create meets a 409."""
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> SessionResult:
        async with ws.provider() as provider:
            async def make_it(_: Plan) -> bool:
                await provider.create(kind, resource_id, attributes)
                return True

            return await apply_session(
                ws.config, provider, ws.backend, plan_sink=ListSink(), apply_sink=lambda _: ListSink(),
                options=SessionOptions(plan=PlanOptions(**plan_options), apply=FAST), confirm=make_it)

    return asyncio.run(go())


SQL_HELPER = {"base_model": "accounts/quickstart/models/sql-helper-v2", "display_name": "made by hand",
              "accelerator_type": "NVIDIA_A100_80GB", "accelerator_count": 1,
              "min_replica_count": 1, "max_replica_count": 1}


@pytest.mark.parametrize("how", ["lifecycle", "flag"])
def test_adoption_refused_at_plan_time_is_refused_at_apply_time_too(quickstart: Path, how: str) -> None:
    # issue 12 (adoption): the object is made between plan and apply; the create's 409 must not adopt it
    if how == "lifecycle":
        deployments = quickstart / "deployments.yaml"
        deployments.write_text(deployments.read_text().replace(
            "  sql-helper:\n", "  sql-helper:\n    lifecycle: {adopt: false}\n"))
    outcome = apply_with_object_made_meanwhile(quickstart, "deployment", "sql-helper", SQL_HELPER,
                                               **({"adopt": False} if how == "flag" else {}))
    result = outcome.result
    assert result is not None
    failed = dict(result.failed)
    error = failed.get("deployment.sql-helper (create)", "")
    assert "accounts/quickstart/deployments/sql-helper was made outside this run" in error, error
    assert "import it (lorainfra import deployment.sql-helper" in error, error
    assert ("lifecycle.adopt is false" if how == "lifecycle" else "--no-adopt refuses adoption") in error, error
    assert "deployment.sql-helper" not in result.state.resources and not result.state.pending
    live = live_attributes(quickstart, "accounts/quickstart/deployments/sql-helper")
    assert live["display_name"] == "made by hand"  # not taken over, not updated
    # without the refusal the same race adopts (and updates) the object, as before
    other = quickstart.parent / "other"
    shutil.copytree(quickstart, other, ignore=shutil.ignore_patterns(".lorainfra"))
    deployments = other / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace("    lifecycle: {adopt: false}\n", ""))
    taken = apply_with_object_made_meanwhile(other, "deployment", "sql-helper", SQL_HELPER).result
    assert taken is not None and taken.ok, taken.failed
    assert taken.state.resources["deployment.sql-helper"].remote_name == "accounts/quickstart/deployments/sql-helper"


def test_saved_plans_keep_the_adoption_refusal(quickstart: Path, tmp_path: Path) -> None:
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace(
        "  sql-helper:\n", "  sql-helper:\n    lifecycle: {adopt: false}\n"))
    saved = tmp_path / "p.plan"
    assert cli("plan", str(quickstart), "--out", str(saved)).code == 0
    plan_back, _, _ = read_plan_file(saved)
    refusals = {c.address: c.adoption_refused for c in plan_back.changes if c.adoption_refused}
    assert refusals == {"deployment.sql-helper": "lifecycle.adopt is false"}
    flagged = plan(quickstart, adopt=False).plan
    assert {c.adoption_refused for c in flagged.actionable} == {"--no-adopt refuses adoption", "lifecycle.adopt is false"}


# ---------------------------------------------------------------- one live object, one fate at the config level
def test_two_loras_that_are_one_live_object_are_a_config_error(quickstart: Path) -> None:
    q = str(quickstart)
    assert apply(quickstart).ok
    before = live_objects(quickstart)
    loras = quickstart / "loras.yaml"
    written = loras.read_text()
    loras.write_text(written + "  extra:\n    model: accounts/quickstart/models/faq-bot-v1\n"
                     "    deployment: shared-base\n")
    line = loras.read_text().splitlines().index("    deployment: shared-base", 10) + 1
    for command in (("validate", q), ("plan", q), ("apply", q, "--auto-approve")):
        r = cli(*command)
        assert r.code == 1 and "Traceback" not in r.err, r
        assert f"{q}/loras.yaml:{line}:17: error: lora.extra loads model 'accounts/quickstart/models/faq-bot-v1' on " \
               f"deployment 'shared-base', as lora.faq-bot does (at {q}/loras.yaml:9:17): both would be one live " \
               "object" in r.err, r.err
    loras.write_text(written)
    assert live_objects(quickstart) == before  # faq-bot's copy was not touched


def test_a_model_reference_and_its_full_name_are_one_live_object_at_plan_time(tmp_path: Path) -> None:
    # model.bot and accounts/acme/models/bot only meet once the plan binds model.NAME in the account
    (tmp_path / "lorainfra.yaml").write_text(
        "provider:\n  account: acme\n  endpoint: local\n  emulator: {ready_after: 0s, deployed_after: 0s}\n")
    (tmp_path / "fleet.yaml").write_text(
        f"deployments:\n  base:\n    base_model: {ADAPTER_BASE}\n    shape: default\n    addons: true\n"
        f"models:\n  bot:\n    base_model: {ADAPTER_BASE}\n    files: adapters/bot\n"
        "loras:\n  bot:\n    model: model.bot\n    deployment: base\n"
        "  again:\n    model: accounts/acme/models/bot\n    deployments: [base]\n")
    write_adapter(tmp_path / "adapters" / "bot", r=8, seed=1)
    assert cli("validate", str(tmp_path)).code == 0  # as written, two different names
    planned = plan(tmp_path)
    (error,) = planned.plan.errors
    assert (str(error.span), error.address) == (f"{tmp_path}/fleet.yaml:16:19", "lora.again[base]")
    assert error.message == ("lora.again[base] loads model 'accounts/acme/models/bot' on deployment 'base', as lora.bot "
                             f"does (at {tmp_path}/fleet.yaml:13:17): both would be one live object")
