"""One endpoint rule for the config, --endpoint and FIREWORKS_BASE_URL."""

from __future__ import annotations

import pytest

from lorainfra.cli.context import resolve_settings
from lorainfra.config.model import Config, ProviderSettings, StateSettings
from lorainfra.errors import SettingsError
from lorainfra.frozen import frozen_mapping

CONFIG = Config("/nowhere", ProviderSettings(account="acme"), StateSettings(), frozen_mapping())
ENV = {"FIREWORKS_API_KEY": "k"}


@pytest.mark.parametrize(("flag", "said"), [
    ("https://me:pw@api.example.com", "endpoint must not contain credentials"),
    ("https://api.example.com/?x=1", "endpoint must not have a query or fragment"),
    ("https://api.example.com/v1", "endpoint must not end in /v1"),
    ("ftp://api.example.com", "endpoint must be 'local' or an http(s):// URL"),
])
def test_a_flag_endpoint_is_held_to_the_config_rule(flag: str, said: str) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_settings(CONFIG, flag, ENV)
    assert said in str(info.value) and "pw" not in str(info.value)


def test_a_good_endpoint_passes() -> None:
    assert resolve_settings(CONFIG, "https://api.example.com/", ENV).endpoint == "https://api.example.com"
