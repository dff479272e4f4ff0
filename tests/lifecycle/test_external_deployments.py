"""External deployments (issue 15): a LoRA loaded onto a deployment another team manages. The deployment is made
directly through the provider (not by this config): read and checked at plan time, never changed or destroyed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lorainfra.cli.context import open_workspace
from lorainfra.frozen import frozen_mapping
from lorainfra.plan.model import Action
from tests.lifecycle.test_lifecycle import ENV, actions, apply, plan, until_ready

MAIN = ("provider:\n  account: quickstart\n  endpoint: local\n"
        "  emulator: {ready_after: 0.05s, deployed_after: 0.05s, delete_after: 0.05s}\n")
LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
QWEN = "accounts/fireworks/models/qwen2p5-7b-instruct"
MODEL = "accounts/quickstart/models/support-bot-v3"  # trained on LLAMA (the emulator's seed)
LORA = (f"loras:\n  support-bot:\n    model: {MODEL}\n"
        "    deployment: {external: accounts/quickstart/deployments/team-base}\n")


def folder(tmp_path: Path, loras: str = LORA) -> Path:
    root = tmp_path / "ext"
    root.mkdir(exist_ok=True)
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "loras.yaml").write_text(loras)
    return root


def other_team_creates(root: Path, deployment_id: str = "team-base", **attributes: Any) -> None:
    """The deployment, made by someone else: straight through the provider, waited to READY."""
    ws = open_workspace(str(root), None, ENV)
    attrs = {"base_model": LLAMA, "accelerator_type": "NVIDIA_H100_80GB", "accelerator_count": 1,
             "enable_addons": True, **attributes}

    async def go() -> None:
        async with ws.provider() as provider:
            obj = await provider.create("deployment", deployment_id, frozen_mapping(attrs))
            await until_ready(provider, obj.name)

    asyncio.run(go())


def test_a_lora_loads_onto_an_external_deployment_which_is_never_managed(tmp_path: Path) -> None:
    root = folder(tmp_path)
    other_team_creates(root)
    other_team_creates(root, "stray")  # a deployment this config does not name at all
    first = plan(root)
    assert first.plan.errors == ()
    assert actions(first) == {"lora.support-bot": Action.CREATE}
    # the external deployment is known to this config (read, never changed): not in the "not managed" list,
    # unlike a deployment the config does not name
    assert first.plan.unmanaged == ("accounts/quickstart/deployments/stray",)
    result = apply(root)
    assert result.ok, (result.failed, result.skipped)
    assert sorted(result.state.resources) == ["lora.support-bot"]  # the deployment is not in the state
    assert result.state.resources["lora.support-bot"].attributes["deployment"] == "team-base"
    assert actions(plan(root)) == {}  # the full name in the config and the ID read back are the same deployment

    destroyed = apply(root, destroy=True)
    assert destroyed.ok
    assert sorted(destroyed.state.resources) == []
    after = plan(root)
    live = {o.name: o.state for o in after.observed.objects.values() if o.kind == "deployment"}
    assert live == {"accounts/quickstart/deployments/team-base": "READY",  # never destroyed
                    "accounts/quickstart/deployments/stray": "READY"}


def errors_of(root: Path) -> list[tuple[str, str, str]]:
    p = plan(root)
    return [(str(d.span).removeprefix(f"{root}/"), d.severity, d.message) for d in p.plan.errors]


def test_a_missing_external_deployment_is_a_plan_error_at_its_line(tmp_path: Path) -> None:
    root = folder(tmp_path)
    assert errors_of(root) == [("loras.yaml:4:17", "error",
                                "external deployment accounts/quickstart/deployments/team-base does not exist")]


def test_an_external_deployment_without_addons_or_of_another_base_is_refused(tmp_path: Path) -> None:
    root = folder(tmp_path)
    other_team_creates(root, enable_addons=False, base_model=QWEN)
    assert errors_of(root) == [
        ("loras.yaml:3:12", "error", f"LoRA {MODEL} is trained on {LLAMA} but external deployment "
                                     f"accounts/quickstart/deployments/team-base serves {QWEN}"),
        ("loras.yaml:4:17", "error", "external deployment accounts/quickstart/deployments/team-base does not "
                                     "have addons enabled, so lora.support-bot cannot be loaded onto it"),
    ]


def test_an_external_deployment_of_another_account_is_refused(tmp_path: Path) -> None:
    root = folder(tmp_path, LORA.replace("accounts/quickstart/deployments", "accounts/other-team/deployments"))
    (error,) = plan(root).plan.errors
    assert error.message == ("external deployment accounts/other-team/deployments/team-base is in account "
                             "other-team, but this plan is for account quickstart")
