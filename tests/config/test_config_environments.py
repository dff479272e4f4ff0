"""Environments, overlays and variables (issue 15): one folder, several environments."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfgkit import BASE, ConfigFolder

from lorainfra.addresses import Address
from lorainfra.config.environments import Selection, parse_var_flags
from lorainfra.config.loader import load_config
from lorainfra.errors import ConfigError
from lorainfra.state.open import local_state_path

MAIN = """provider:
  endpoint: local
variables:
  replicas: {type: integer, default: 1}
  lora_version: {default: v1}
environments:
  staging:
    account: acme-staging
    vars: {lora_version: v2}
  prod:
    account: acme
    vars: {replicas: 3}
"""
DEP = f"""deployments:
  base:
    base_model: {BASE}
    shape: default
    addons: true
    replicas:
      min: ${{var.replicas}}
      max: 4
"""
LORAS = """loras:
  bot:
    model: accounts/acme/models/bot-${var.lora_version}
    deployment: base
  old:
    model: accounts/acme/models/old
    deployment: base
"""
BOT = Address("lora", "bot")
DEPLOYMENT = Address("deployment", "base")


def folder(cfg: ConfigFolder, extra: dict[str, str] | None = None) -> Path:
    return cfg.write({"lorainfra.yaml": MAIN, "deployments.yaml": DEP, "loras.yaml": LORAS, **(extra or {})})


def load(path: Path, env: str | None, **variables: str) -> object:
    return load_config(path, selection=Selection(env=env, vars=variables))


def test_each_environment_has_its_account_variables_and_own_state(cfg: ConfigFolder) -> None:
    path = folder(cfg)
    staging = load_config(path, selection=Selection(env="staging"))
    prod = load_config(path, selection=Selection(env="prod"))
    assert (staging.environment, staging.provider.account) == ("staging", "acme-staging")
    assert (prod.environment, prod.provider.account) == ("prod", "acme")
    assert staging.resources[DEPLOYMENT].attributes["min_replica_count"] == 1  # the default
    assert prod.resources[DEPLOYMENT].attributes["min_replica_count"] == 3  # an integer, not "3"
    assert staging.resources[BOT].attributes["model"] == "accounts/acme/models/bot-v2"
    assert prod.resources[BOT].attributes["model"] == "accounts/acme/models/bot-v1"
    assert (staging.state.workspace, prod.state.workspace) == ("staging", "prod")
    assert local_state_path(staging.state, path) != local_state_path(prod.state, path)
    assert staging.digest != prod.digest


def test_var_flag_wins_and_is_converted_to_the_type(cfg: ConfigFolder) -> None:
    config = load_config(folder(cfg), selection=Selection(env="prod", vars={"replicas": "2", "lora_version": "v9"}))
    assert config.resources[DEPLOYMENT].attributes["min_replica_count"] == 2
    assert config.resources[BOT].attributes["model"] == "accounts/acme/models/bot-v9"


def test_var_flag_of_the_wrong_type_is_an_error(cfg: ConfigFolder) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(folder(cfg), selection=Selection(env="prod", vars={"replicas": "three"}))
    assert [d.render().splitlines()[0] for d in info.value.diagnostics] == [
        "--var: error: --var replicas='three': variable replicas is integer, and 'three' is not"]


def test_env_state_path_per_environment(cfg: ConfigFolder) -> None:
    main = MAIN.replace("    vars: {lora_version: v2}\n", "    vars: {lora_version: v2}\n    state: {path: st/staging.json}\n")
    config = load_config(cfg.write({"lorainfra.yaml": main}), selection=Selection(env="staging"))
    assert config.state.path == "st/staging.json"


def test_two_environments_on_one_workspace_is_an_error(cfg: ConfigFolder) -> None:
    main = MAIN.replace("    vars: {replicas: 3}\n", "    vars: {replicas: 3}\n    state: {workspace: staging}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg.write({"lorainfra.yaml": main}), selection=Selection(env="prod"))
    assert "environments staging and prod share the state workspace 'staging'" in str(info.value)


def test_overlay_merges_deep_replaces_scalars_and_lists_and_null_removes(cfg: ConfigFolder) -> None:
    overlay = ("deployments:\n  base:\n    replicas: {max: 8}\n    lifecycle: {ignore_changes: [replicas]}\n"
               "loras:\n  old: null\n  bot:\n    display_name: Bot (prod)\n")
    path = folder(cfg, {"deployments.yaml": DEP.replace("addons: true", "addons: true\n    lifecycle: "
                                                        "{ignore_changes: [shape], prevent_destroy: true}"),
                        "env/prod/overlay.yaml": overlay})
    prod = load_config(path, selection=Selection(env="prod"))
    staging = load_config(path, selection=Selection(env="staging"))
    deployment = prod.resources[DEPLOYMENT]
    assert deployment.attributes["min_replica_count"] == 3  # kept from the shared file (deep merge)
    assert deployment.attributes["max_replica_count"] == 8  # replaced by the overlay
    assert deployment.lifecycle.prevent_destroy is True  # kept: mappings merge
    assert staging.resources[DEPLOYMENT].attributes["max_replica_count"] == 4
    assert "old" not in {a.name for a in prod.resources} and Address("lora", "old") in staging.resources
    assert prod.resources[BOT].attributes["display_name"] == "Bot (prod)"
    assert str(deployment.attribute_spans["max_replica_count"]).startswith("env/prod/overlay.yaml:3:")
    assert str(deployment.attribute_spans["min_replica_count"]).startswith("deployments.yaml:8:")
    assert "env/prod/overlay.yaml" in prod.files and "env/prod/overlay.yaml" not in staging.files


def test_an_overlay_change_changes_only_its_environment_digest(cfg: ConfigFolder) -> None:
    path = folder(cfg, {"env/staging/bump.yaml": "loras:\n  bot:\n    model: accounts/acme/models/bot-v3\n"})
    before = (load(path, "staging").digest, load(path, "prod").digest)  # type: ignore[attr-defined]
    (path / "env/staging/bump.yaml").write_text("loras:\n  bot:\n    model: accounts/acme/models/bot-v4\n")
    after = (load(path, "staging").digest, load(path, "prod").digest)  # type: ignore[attr-defined]
    assert before[0] != after[0] and before[1] == after[1]


def test_literal_dollar_brace_and_interpolated_booleans(cfg: ConfigFolder) -> None:
    main = "provider: {endpoint: local}\nvariables:\n  flag: {default: true}\n"
    loras = "loras:\n  bot:\n    model: accounts/a/models/m\n    serverless: true\n    description: '$${x} ${var.flag}'\n"
    config = load_config(cfg.write({"lorainfra.yaml": main, "loras.yaml": loras}))
    assert config.resources[BOT].attributes["description"] == "${x} true"


def test_a_variable_without_a_value_is_an_error_where_it_is_used(cfg: ConfigFolder) -> None:
    main = "provider: {endpoint: local}\nvariables:\n  model: {type: string}\n"
    loras = "loras:\n  bot:\n    model: ${var.model}\n    serverless: true\n"
    path = cfg.write({"lorainfra.yaml": main, "loras.yaml": loras})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith("loras.yaml:3:12: error: variable model has no value")
    assert load_config(path, selection=Selection(vars={"model": "accounts/a/models/m"})).resources[BOT]


def test_merge_key_keeps_the_anchor_lifecycle_keys(cfg: ConfigFolder) -> None:
    """Issue 15: `<<:` was shallow, so a resource's own lifecycle: dropped the anchor's prevent_destroy."""
    loras = ("x-guarded: &guarded\n  deployment: base\n  lifecycle:\n    prevent_destroy: true\n"
             "    ignore_changes: [display_name]\nloras:\n  bot:\n    <<: *guarded\n    model: accounts/a/models/m\n"
             "    lifecycle:\n      ignore_changes: [description]\n")
    config = cfg.load({"deployments.yaml": DEP.replace("${var.replicas}", "1"), "loras.yaml": loras})
    bot = config.resources[BOT]
    assert bot.lifecycle.prevent_destroy is True
    assert bot.lifecycle.ignore_changes == ("description",)  # a list written in the mapping replaces the anchor's


def test_parse_var_flags() -> None:
    assert parse_var_flags(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_var_flags(["novalue"])
