"""Fleets (issue 15): one LoRA declared for several deployments, applied against the in-process emulator."""

from __future__ import annotations

from pathlib import Path

from lorainfra.engine.outputs import outputs
from lorainfra.plan.model import Action
from tests.lifecycle.test_lifecycle import actions, apply, live_objects, plan

MAIN = ("provider:\n  account: quickstart\n  endpoint: local\n"
        "  emulator: {ready_after: 0.05s, deployed_after: 0.05s, delete_after: 0.05s}\n")
DEPLOYMENTS = ("x-base: &base\n  base_model: accounts/fireworks/models/llama-v3p1-8b-instruct\n"
               "  accelerator: {type: NVIDIA_H100_80GB, count: 1}\n  addons: true\n"
               "deployments:\n  a: *base\n  b: *base\n  c: *base\n")
MODEL = "accounts/quickstart/models/support-bot-v3"


def folder(tmp_path: Path, loras: str) -> Path:
    root = tmp_path / "fleet"
    root.mkdir(exist_ok=True)
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "deployments.yaml").write_text(DEPLOYMENTS)
    (root / "loras.yaml").write_text(loras)
    return root


def fleet(*targets: str, extra: str = "") -> str:
    return f"loras:\n  support-bot:\n    model: {MODEL}\n    deployments: [{', '.join(targets)}]\n{extra}"


def loaded_on(root: Path) -> list[str]:
    """The deployment ID of every live LoRA (DeployedModel) that is not gone."""
    p = plan(root)
    return sorted(str(o.attributes.get("deployment")) for o in p.observed.objects.values()
                  if o.kind == "lora" and not o.gone)


def test_a_fleet_applies_one_lora_per_deployment_keyed_by_deployment(tmp_path: Path) -> None:
    root = folder(tmp_path, fleet("a", "b", "c"))
    # --target / --replace with the fleet's own address stand for every item of it
    targeted = plan(root, targets=frozenset({"lora.support-bot"}))  # type: ignore[arg-type]
    assert targeted.plan.errors == ()
    assert set(actions(targeted)) == {"deployment.a", "deployment.b", "deployment.c", "lora.support-bot[a]",
                                      "lora.support-bot[b]", "lora.support-bot[c]"}
    one = plan(root, targets=frozenset({"lora.support-bot[b]"}))  # type: ignore[arg-type]
    assert set(actions(one)) == {"deployment.b", "lora.support-bot[b]"}
    result = apply(root)
    assert result.ok, (result.failed, result.skipped)
    loras = {a: r for a, r in result.state.resources.items() if a.startswith("lora.")}
    assert sorted(loras) == ["lora.support-bot[a]", "lora.support-bot[b]", "lora.support-bot[c]"]
    assert {r.attributes["deployment"] for r in loras.values()} == {"a", "b", "c"}
    assert loaded_on(root) == ["a", "b", "c"]
    assert sorted(live_objects(root).values()).count("DEPLOYED") == 3
    calls = {o.address: o.call for o in outputs(result.state) if o.via == "addon"}  # what apps call, per item
    assert calls == {f"lora.support-bot[{d}]": f"{MODEL}#accounts/quickstart/deployments/{d}" for d in "abc"}

    (root / "loras.yaml").write_text(fleet("c", "a", "b"))  # reordered: the same addresses, nothing to do
    assert actions(plan(root)) == {}

    (root / "loras.yaml").write_text(fleet("c", "a"))  # b dropped: only its LoRA is unloaded
    assert actions(plan(root)) == {"lora.support-bot[b]": Action.DELETE}
    result = apply(root)
    assert result.ok, (result.failed, result.skipped)
    assert loaded_on(root) == ["a", "c"]
    assert "deployment.b" in result.state.resources
    assert actions(plan(root)) == {}


def test_converting_a_lora_to_a_fleet_with_a_moved_block_changes_nothing_live(tmp_path: Path) -> None:
    root = folder(tmp_path, f"loras:\n  support-bot:\n    model: {MODEL}\n    deployment: a\n")
    first = apply(root)
    assert first.ok
    remote = first.state.resources["lora.support-bot"].remote_name

    (root / "loras.yaml").write_text(fleet("a"))  # without moved: a rename, and the plan says so
    errors = plan(root).plan.errors
    # the hint is YAML the user can paste: a bracketed address is quoted inside a flow mapping
    assert [e.hint for e in errors if "looks like a rename" in e.message] == [
        "add to the config: moved: [{from: lora.support-bot, to: 'lora.support-bot[a]'}]"], errors

    (root / "loras.yaml").write_text(fleet("a", extra="moved:\n  - {from: lora.support-bot, to: 'lora.support-bot[a]'}\n"))
    planned = plan(root)
    assert planned.plan.errors == ()
    assert actions(planned) == {}
    assert any("has moved to lora.support-bot[a]" in note for note in planned.notes)
    second = apply(root)
    assert second.ok
    assert "lora.support-bot" not in second.state.resources
    assert second.state.resources["lora.support-bot[a]"].remote_name == remote
    assert loaded_on(root) == ["a"]
    assert actions(plan(root)) == {}

    # the fleet grows: only the new item is loaded
    (root / "loras.yaml").write_text(fleet("a", "b", extra="moved:\n  - {from: lora.support-bot, to: 'lora.support-bot[a]'}\n"))
    assert actions(plan(root)) == {"lora.support-bot[b]": Action.CREATE}


def test_a_fleet_item_moves_to_another_lora(tmp_path: Path) -> None:
    root = folder(tmp_path, fleet("a", "b"))
    assert apply(root).ok
    moved = ("  support-bot-eu:\n    model: " + MODEL + "\n    deployment: b\n"
             "moved:\n  - {from: 'lora.support-bot[b]', to: lora.support-bot-eu}\n")
    (root / "loras.yaml").write_text(fleet("a") + moved)
    planned = plan(root)
    assert planned.plan.errors == ()
    assert actions(planned) == {}
    state = apply_state(root)
    assert sorted(a for a in state if a.startswith("lora.")) == ["lora.support-bot-eu", "lora.support-bot[a]"]


def apply_state(root: Path) -> list[str]:
    result = apply(root)
    assert result.ok
    return sorted(result.state.resources)


def test_fleet_item_addresses_work_in_cli_flags_and_state_commands(tmp_path: Path) -> None:
    from tests.e2e.helpers import cli

    root = folder(tmp_path, fleet("a", "b"))
    targeted = cli("apply", "--target", "lora.support-bot[b]", "--auto-approve", str(root))
    assert targeted.code == 0, targeted.out + targeted.err
    listed = cli("state", "list", str(root))
    assert [line.split()[0] for line in listed.out.splitlines()] == ["deployment.b", "lora.support-bot[b]"], listed.out
    shown = cli("state", "show", 'lora.support-bot["b"]', str(root))
    assert shown.code == 0 and '"deployment": "b"' in shown.out, shown.out + shown.err
    moved = cli("state", "mv", "lora.support-bot[b]", "lora.support-bot-eu", str(root))
    assert moved.code == 0, moved.out + moved.err
    bad = cli("state", "rm", "lora.support-bot[b", str(root))
    assert bad.code != 0 and "invalid address 'lora.support-bot[b'" in bad.out + bad.err
    assert "Traceback" not in bad.out + bad.err
