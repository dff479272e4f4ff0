"""Fleets (issue 15): ``deployments: [a, b]`` in a LoRA declares lora.NAME[a] and lora.NAME[b]."""

from __future__ import annotations

from lorainfra.addresses import Address
from tests.config.cfgkit import BASE, ConfigFolder

DEPS = (f"x-d: &d\n  base_model: {BASE}\n  shape: default\n  addons: true\n"
        "deployments:\n  a: *d\n  b: *d\n  c: *d\n")


def test_a_fleet_declares_one_lora_per_deployment_with_the_shared_keys(cfg: ConfigFolder) -> None:
    config = cfg.load({"d.yaml": DEPS, "loras.yaml": (
        "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [c, a]\n"
        "    display_name: Bot\n    lifecycle: {prevent_destroy: true}\n")})
    items = {a: r for a, r in config.resources.items() if a.kind == "lora"}
    assert list(items) == [Address("lora", "bot[a]"), Address("lora", "bot[c]")]
    for key, resource in items.items():
        assert resource.attributes["deployment"] == key.key
        assert resource.attributes["display_name"] == "Bot"
        assert resource.lifecycle.prevent_destroy
        assert resource.depends_on == (Address("deployment", str(key.key)),)
    # each item points at its own entry of the list
    assert str(items[Address("lora", "bot[c]")].span) == "loras.yaml:4:19"
    assert str(items[Address("lora", "bot[a]")].attribute_spans["deployment"]) == "loras.yaml:4:22"


def test_depends_on_a_whole_fleet_depends_on_every_item(cfg: ConfigFolder) -> None:
    config = cfg.load({"d.yaml": DEPS, "loras.yaml": (
        "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [a, b]\n"
        "  later:\n    model: accounts/q/models/n\n    deployment: c\n    depends_on: [lora.bot, 'lora.bot[a]']\n")})
    assert config.resources[Address("lora", "later")].depends_on == (
        Address("deployment", "c"), Address("lora", "bot[a]"), Address("lora", "bot[b]"))


def test_a_problem_in_the_shared_part_of_a_fleet_is_reported_once_about_the_fleet(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": DEPS, "loras.yaml": (
        "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [a, b, c]\n"
        "    lifecycle: {ignore_changes: [bogus]}\n")})
    assert [(str(d.span), d.address) for d in error.diagnostics] == [("loras.yaml:5:34", "lora.bot")]


def test_a_problem_with_one_item_names_that_item(cfg: ConfigFolder) -> None:
    deps = DEPS.replace("  c: *d\n", f"  c:\n    base_model: {BASE}\n    shape: default\n")
    error = cfg.error({"d.yaml": deps, "loras.yaml": (
        "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [a, c]\n")})
    assert [(str(d.span), d.address) for d in error.diagnostics] == [("loras.yaml:4:22", "lora.bot[c]")]
