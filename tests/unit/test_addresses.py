"""Addresses: KIND.NAME and KIND.NAME[KEY] (a fleet item), as users type them in flags, state commands and YAML."""

from __future__ import annotations

import pytest

from lorainfra.addresses import Address, with_fleet_items, yaml_quoted
from lorainfra.kinds.registry import parse_address


@pytest.mark.parametrize(("text", "name", "base", "key"), [
    ("lora.support-bot", "support-bot", "support-bot", None),
    ("lora.support-bot[a]", "support-bot[a]", "support-bot", "a"),
    ('lora.support-bot["eu-base"]', "support-bot[eu-base]", "support-bot", "eu-base"),  # Terraform's spelling
])
def test_an_address_parses_with_or_without_a_key(text: str, name: str, base: str, key: str | None) -> None:
    address = parse_address(text)
    assert (address.kind, address.name, address.base, address.key) == ("lora", name, base, key)
    assert address.group == Address("lora", base)
    assert parse_address(str(address)) == address  # printed the way it parses


@pytest.mark.parametrize("text", [
    "lora.support-bot[a", "lora.support-bot]a[", "lora.support-bot[]", "lora.x[a][b]", "lora.[a]",
    "lora.x[\"a]", "lora.x.y", "dataset.x[a]", "lora", "lora.",
])
def test_malformed_addresses_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected KIND\.NAME or KIND\.NAME\[KEY\]"):
        parse_address(text)


def test_a_bracketed_address_is_quoted_for_a_yaml_flow_mapping() -> None:
    assert yaml_quoted("lora.support-bot[a]") == "'lora.support-bot[a]'"
    assert yaml_quoted("lora.support-bot") == "lora.support-bot"


def test_a_fleet_address_in_a_flag_stands_for_all_its_items() -> None:
    known = ["lora.bot[a]", "lora.bot[b]", "lora.bot-eu", "lora.plain", "deployment.a"]
    assert with_fleet_items(["lora.bot"], known) == {"lora.bot[a]", "lora.bot[b]"}
    assert with_fleet_items(["lora.bot[a]", "lora.plain"], known) == {"lora.bot[a]", "lora.plain"}
    assert with_fleet_items(["lora.nope"], known) == {"lora.nope"}  # left for the unknown-address error
