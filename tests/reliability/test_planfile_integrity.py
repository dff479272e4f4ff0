"""Saved plans are applied only as written, by the lorainfra that wrote them, within the lifecycle rules
(issue 13, item 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lorainfra import __version__
from lorainfra.addresses import Address
from lorainfra.config.model import Lifecycle, Resource
from lorainfra.errors import ConfigError, LorainfraError, Span
from lorainfra.plan.lifecycle import prevent_destroy_violations
from lorainfra.plan.model import Action, Change, Fingerprint, Plan
from lorainfra.plan.planfile import ensure_lifecycle, plan_file_digest, read_plan_file, write_plan_file
from tests.e2e.helpers import cli


def sample_plan() -> Plan:
    return Plan(
        changes=(
            Change("deployment.base", "deployment", Action.UPDATE, after={"replicas": {"min": 1, "max": 3}},
                   remote_name="accounts/a/deployments/base"),
            Change("lora.bot", "lora", Action.CREATE, after={"model": "accounts/a/models/bot"}),
        ),
        fingerprint=Fingerprint("lin", 3, "sha256:c", "sha256:o"),
    )


def saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "p.plan"
    write_plan_file(path, sample_plan(), config_dir=str(tmp_path))
    return path, json.loads(path.read_text())


def rewrite(path: Path, doc: dict[str, Any], *, redigest: bool = False) -> None:
    if redigest:
        doc["digest"] = plan_file_digest(doc)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True))


def test_a_saved_plan_carries_its_digest_and_the_lorainfra_version_and_reads_back(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    assert doc["lorainfra_version"] == __version__
    assert doc["digest"] == plan_file_digest(doc) and doc["digest"].startswith("sha256:")
    plan, config_dir, _ = read_plan_file(path)
    assert plan == sample_plan() and config_dir == str(tmp_path)


def test_an_edited_action_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["plan"]["changes"][0]["action"] = "delete"
    rewrite(path, doc)
    with pytest.raises(LorainfraError, match="changed since") as info:
        read_plan_file(path)
    assert str(path) in str(info.value) and "lorainfra plan --out" in str(info.value)


@pytest.mark.parametrize("edit", ["config_dir", "fingerprint", "whitespace-only"])
def test_any_edit_but_formatting_is_refused(tmp_path: Path, edit: str) -> None:
    path, doc = saved(tmp_path)
    if edit == "config_dir":
        doc["config_dir"] = "/somewhere/else"
    elif edit == "fingerprint":
        doc["plan"]["fingerprint"]["serial"] = 4
    rewrite(path, doc)
    if edit == "whitespace-only":  # re-indenting the JSON changes no content
        assert read_plan_file(path)[0] == sample_plan()
    else:
        with pytest.raises(LorainfraError, match="changed since"):
            read_plan_file(path)


@pytest.mark.parametrize("missing", ["digest", "lorainfra_version"])
def test_a_plan_file_without_digest_or_version_is_refused(tmp_path: Path, missing: str) -> None:
    path, doc = saved(tmp_path)
    del doc[missing]
    rewrite(path, doc)
    with pytest.raises(LorainfraError, match="make the plan again"):
        read_plan_file(path)


def test_a_plan_file_of_another_lorainfra_version_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["lorainfra_version"] = "0.0.1"
    rewrite(path, doc, redigest=True)
    with pytest.raises(LorainfraError, match=r"lorainfra 0\.0\.1") as info:
        read_plan_file(path)
    assert __version__ in str(info.value)


def test_a_plan_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path, doc = saved(tmp_path)
    doc["format"] = 99
    rewrite(path, doc, redigest=True)
    with pytest.raises(LorainfraError, match="format 99"):
        read_plan_file(path)


def resource(name: str, prevent: bool) -> Resource:
    return Resource(Address("deployment", name), {}, Span("deployments.yaml", 3, 3),
                    lifecycle=Lifecycle(prevent_destroy=prevent))


def test_prevent_destroy_violations_is_pure_and_names_the_declaration() -> None:
    resources = {r.address: r for r in (resource("keep", True), resource("free", False))}
    changes = (
        Change("deployment.keep", "deployment", Action.DELETE),
        Change("deployment.keep2", "deployment", Action.DELETE),  # not in the config: nothing to protect
        Change("deployment.free", "deployment", Action.REPLACE),
        Change("deployment.keep", "deployment", Action.UPDATE),
    )
    found = prevent_destroy_violations(changes, resources)
    assert [(str(d.span), d.message.split(" ")[0]) for d in found] == [("deployments.yaml:3:3", "deployment.keep")]
    assert "destroy" in found[0].message
    replace = prevent_destroy_violations((Change("deployment.keep", "deployment", Action.REPLACE),), resources)
    assert "replace" in replace[0].message
    with pytest.raises(ConfigError, match="prevent_destroy"):
        ensure_lifecycle(Plan(changes=changes), resources)
    ensure_lifecycle(Plan(changes=changes[1:]), resources)


def test_a_forged_plan_cannot_destroy_a_prevent_destroy_deployment(quickstart: Path, tmp_path: Path) -> None:
    """Even with a recomputed digest, apply re-checks lifecycle rules against the current config."""
    q = str(quickstart)
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace(
        "    addons: true\n", "    addons: true\n    lifecycle: {prevent_destroy: true}\n", 1))
    assert cli("apply", q, "--auto-approve").code == 0
    plan_path = tmp_path / "forged.plan"
    made = cli("plan", q, "--out", str(plan_path))
    assert made.code == 0, made.err
    doc = json.loads(plan_path.read_text())
    [change] = [c for c in doc["plan"]["changes"] if c["address"] == "deployment.shared-base"]
    change["action"] = "delete"
    change["after"] = None
    naive = tmp_path / "naive.plan"
    rewrite(naive, json.loads(json.dumps(doc)))
    refused = cli("apply", str(naive))
    assert refused.code == 1 and "changed since" in refused.err and "Traceback" not in refused.err
    rewrite(plan_path, doc, redigest=True)
    forged = cli("apply", str(plan_path))
    assert forged.code == 1, forged.out + forged.err
    assert "prevent_destroy" in forged.err and "Traceback" not in forged.err
    listed = cli("state", "list", "-C", q)
    assert "deployment.shared-base" in listed.out
    assert cli("plan", q, "--detailed-exitcode").code == 0  # nothing was touched
