"""Loader: a valid folder becomes the expected Config; settings, defaults, digest, determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cfgkit import BASE, ConfigFolder

from lorainfra.addresses import Address
from lorainfra.config.loader import config_digest, load_config
from lorainfra.config.model import EmulatorSettings, Lifecycle, StateSettings
from lorainfra.errors import ConfigError, Span

ROOT = Path(__file__).resolve().parents[2]

FULL_MAIN = """\
provider:
  account: quickstart
  endpoint: local
  emulator:
    ready_after: 2s
    deployed_after: 1500ms
    delete_after: 0.5
state:
  backend: local
  path: .lorainfra/state.json
"""

FULL_DEPLOYMENTS = f"""\
deployments:
  shared-base:
    base_model: {BASE}
    display_name: Shared base
    description: the shared base
    accelerator: {{type: NVIDIA_H100_80GB, count: 2}}
    precision: FP8
    replicas: {{min: 1, max: 4}}
    autoscaling: {{scale_up_window: 30s, scale_down_window: 10m, scale_to_zero_window: 1h, load_targets: {{default: 0.8}}}}
    placement: {{regions: [US_IOWA_1, EU_LONDON_1]}}
    addons: true
    max_context_length: 8192
    lifecycle: {{prevent_destroy: true, ignore_changes: [replicas.max, addons, autoscaling.scale_up_window, shape, display_name]}}
  merged:
    base_model: accounts/quickstart/models/sql-helper-v2
    shape: accounts/fireworks/deploymentShapes/llama-8b
    placement: {{multi_region: US}}
    depends_on: [deployment.shared-base]
"""

FULL_LORAS = f"""\
loras:
  support-bot:
    model: accounts/quickstart/models/support-bot-v3
    deployment: shared-base
    base_model: {BASE}
    display_name: Support bot
    depends_on: [deployment.merged]
    lifecycle: {{ignore_changes: [description]}}
  faq:
    model: accounts/quickstart/models/faq-v1
    serverless: true
"""


def full(cfg: ConfigFolder) -> Path:
    return cfg.write({"lorainfra.yaml": FULL_MAIN, "deployments.yaml": FULL_DEPLOYMENTS, "loras.yml": FULL_LORAS})


def test_full_config_round_trips(cfg: ConfigFolder) -> None:
    folder = full(cfg)
    config = load_config(folder)
    assert config.root == str(folder)
    assert config.files == ("deployments.yaml", "lorainfra.yaml", "loras.yml")
    assert config.provider.account == "quickstart"
    assert config.provider.endpoint == "local"
    assert config.provider.emulator == EmulatorSettings(ready_after=2.0, deployed_after=1.5, delete_after=0.5)
    assert config.provider.span == Span("lorainfra.yaml", 1, 1)
    assert config.state == StateSettings(backend="local", path=".lorainfra/state.json")
    assert list(config.resources) == [
        Address("deployment", "merged"), Address("deployment", "shared-base"),
        Address("lora", "faq"), Address("lora", "support-bot"),
    ]
    base = config.resource(Address("deployment", "shared-base"))
    assert dict(base.attributes) == {
        "base_model": BASE,
        "display_name": "Shared base",
        "description": "the shared base",
        "accelerator_type": "NVIDIA_H100_80GB",
        "accelerator_count": 2,
        "precision": "FP8",
        "min_replica_count": 1,
        "max_replica_count": 4,
        "autoscaling_policy.scale_up_window": "30s",
        "autoscaling_policy.scale_down_window": "600s",
        "autoscaling_policy.scale_to_zero_window": "3600s",
        "autoscaling_policy.load_targets": {"default": 0.8},
        "placement.regions": ["US_IOWA_1", "EU_LONDON_1"],
        "enable_addons": True,
        "max_context_length": 8192,
    }
    assert list(base.attributes) == sorted(base.attributes)
    assert base.span == Span("deployments.yaml", 2, 3)
    assert base.attribute_spans["base_model"] == Span("deployments.yaml", 3, 17)
    assert base.attribute_spans["accelerator_count"] == Span("deployments.yaml", 6, 50)
    assert base.attribute_spans["placement.regions"] == Span("deployments.yaml", 10, 26)
    assert base.depends_on == ()
    assert base.lifecycle == Lifecycle(
        prevent_destroy=True,
        ignore_changes=("autoscaling_policy.scale_up_window", "deployment_shape", "display_name",
                        "enable_addons", "max_replica_count"),
    )
    merged = config.resource(Address("deployment", "merged"))
    assert dict(merged.attributes) == {
        "base_model": "accounts/quickstart/models/sql-helper-v2",
        "deployment_shape": "accounts/fireworks/deploymentShapes/llama-8b",
        "placement.multi_region": "US",
        "min_replica_count": 0, "enable_addons": False,  # display_name/description: compared only when set
    }
    assert merged.depends_on == (Address("deployment", "shared-base"),)
    bot = config.resource(Address("lora", "support-bot"))
    assert dict(bot.attributes) == {
        "model": "accounts/quickstart/models/support-bot-v3", "deployment": "shared-base",
        "serverless": False, "display_name": "Support bot",
    }
    assert bot.depends_on == (Address("deployment", "merged"), Address("deployment", "shared-base"))
    assert bot.span == Span("loras.yml", 2, 3)
    assert bot.lifecycle == Lifecycle(ignore_changes=("description",))
    faq = config.resource(Address("lora", "faq"))
    assert dict(faq.attributes) == {
        "model": "accounts/quickstart/models/faq-v1", "deployment": "", "serverless": True,
    }
    assert faq.depends_on == ()


def test_digest_is_sha256_over_sorted_names_and_bytes(cfg: ConfigFolder) -> None:
    folder = full(cfg)
    config = load_config(folder)
    sha = hashlib.sha256()
    for name in sorted(["deployments.yaml", "lorainfra.yaml", "loras.yml"]):
        data = (folder / name).read_bytes()
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)
    assert config.digest == sha.hexdigest() == config_digest(folder)
    (folder / "loras.yml").write_text(FULL_LORAS + "\n# a comment\n")
    assert config_digest(folder) != config.digest
    (folder / "notes.txt").write_text("not config")
    (folder / ".hidden.yaml").write_text("garbage: [")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.yaml").write_text("garbage: [")
    assert load_config(folder).files == ("deployments.yaml", "lorainfra.yaml", "loras.yml")


def test_loading_is_deterministic(cfg: ConfigFolder) -> None:
    folder = full(cfg)
    assert load_config(folder) == load_config(folder)
    broken = cfg.write({"a.yaml": "deployments:\n  X: {}\n  y: {base_model: 1}\n", "b.yaml": "loras: {z: {}}\n"})
    first = [str(e) for e in (_fail(broken), _fail(broken))]
    assert first[0] == first[1]


def _fail(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return info.value


def test_quickstart_example_loads() -> None:
    config = load_config(ROOT / "examples" / "quickstart")
    assert config.files[0] and "lorainfra.yaml" in config.files
    assert all(r.span.line > 0 for r in config.resources.values())


def test_minimal_main_file_defaults(cfg: ConfigFolder) -> None:
    config = cfg.load({"lorainfra.yaml": "provider: {}\n"})
    assert config.provider.account is None and config.provider.endpoint is None
    assert config.state == StateSettings()
    assert config.resources == {}
    assert cfg.load({"lorainfra.yaml": "provider:\n"}).provider.account is None


def test_postgres_state(cfg: ConfigFolder) -> None:
    main = "provider: {endpoint: 'https://api.fireworks.ai'}\nstate: {backend: postgres, dsn_env: PG_DSN, workspace: prod}\n"
    config = cfg.load({"lorainfra.yaml": main})
    assert config.state == StateSettings(backend="postgres", dsn_env="PG_DSN", workspace="prod")
    assert config.provider.endpoint == "https://api.fireworks.ai"


def test_emulator_seed_setting(cfg: ConfigFolder) -> None:
    config = cfg.load({"lorainfra.yaml": "provider:\n  endpoint: local\n  emulator: {seed: seeds/models.yaml}\n"})
    assert config.provider.emulator.seed == "seeds/models.yaml"


def test_missing_main_file(tmp_path: Path) -> None:
    (tmp_path / "deployments.yaml").write_text("deployments: {}\n")
    error = _fail(tmp_path)
    assert [d.message for d in error.diagnostics] == [f"no lorainfra.yaml in {tmp_path}"]
    assert error.diagnostics[0].hint == "run lorainfra in a config folder or pass its path"
    assert "lorainfra.yaml" in str(error)
    assert "no lorainfra.yaml" in str(_fail(tmp_path / "does-not-exist"))
    (tmp_path / "lorainfra.yml").write_text("provider: {}\n")
    assert "pass the folder" in _fail(tmp_path / "lorainfra.yml").diagnostics[0].hint
    assert "rename lorainfra.yml" in _fail(tmp_path).diagnostics[0].hint


def test_every_problem_is_reported_at_once(cfg: ConfigFolder) -> None:
    errors = cfg.errors({
        "lorainfra.yaml": "provider: {acount: x}\nstate: {backend: sqlite}\n",
        "a.yaml": f"deployments:\n  Bad_Name: {{base_model: {BASE}, shape: default}}\n"
                  f"  ok: {{base_model: {BASE}, shape: default, replicas: {{min: 2, max: 1}}}}\n",
        "b.yaml": "loras:\n  l: {model: accounts/a/models/m, deployment: okk}\n",
    })
    assert errors == [
        "a.yaml:2:3: 'Bad_Name' is not a valid deployment ID",
        "a.yaml:3:110: replicas.max (1) is less than replicas.min (2)",
        "b.yaml:2:47: no deployment 'okk'; did you mean 'ok'?",
        "lorainfra.yaml:1:12: unknown key 'acount' in provider",
        "lorainfra.yaml:2:18: state.backend: unknown value 'sqlite'",
    ]


def test_resources_are_frozen(cfg: ConfigFolder) -> None:
    config = load_config(full(cfg))
    with pytest.raises(TypeError):
        config.resources[Address("lora", "x")] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        config.resource(Address("lora", "faq")).attributes["model"] = "x"  # type: ignore[index]


def test_extension_keys_hold_shared_anchors(cfg: ConfigFolder) -> None:
    text = f"""\
x-common: &common
  base_model: {BASE}
  accelerator: {{type: NVIDIA_H100_80GB, count: 1}}
  addons: true
deployments:
  blue:
    <<: *common
    replicas: {{min: 1, max: 2}}
  green:
    <<: *common
    addons: false
"""
    config = cfg.load({"d.yaml": text})
    blue = config.resource(Address("deployment", "blue"))
    green = config.resource(Address("deployment", "green"))
    assert blue.attributes["enable_addons"] is True and green.attributes["enable_addons"] is False
    assert blue.attributes["accelerator_type"] == green.attributes["accelerator_type"] == "NVIDIA_H100_80GB"
    assert blue.attribute_spans["base_model"] == Span("d.yaml", 2, 15)  # the anchored definition
    assert green.attribute_spans["enable_addons"] == Span("d.yaml", 11, 13)


def test_names_that_yaml_would_read_as_other_types(cfg: ConfigFolder) -> None:
    config = cfg.load({"d.yaml": f"deployments:\n  123:\n    base_model: {BASE}\n    shape: default\n"
                                 f"  yes:\n    base_model: {BASE}\n    shape: default\n"})
    assert sorted(a.name for a in config.resources) == ["123", "yes"]
