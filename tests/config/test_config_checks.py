"""Domain checks and schema errors: each rule, with the exact file:line:col and message."""

from __future__ import annotations

from functools import cached_property

import pytest
from cfgkit import BASE, ConfigFolder

DEP = f"""\
deployments:
  base:
    base_model: {BASE}
    shape: default
    addons: true
"""


def dep(*lines: str, name: str = "base", shape: bool = True) -> str:
    """A deployments.yaml with one deployment: base_model on line 3, then ``lines`` from line 4 on."""
    body = [f"    base_model: {BASE}", *[f"    {line}" for line in lines]]
    if shape:
        body.append("    shape: default")
    return f"deployments:\n  {name}:\n" + "\n".join(body) + "\n"


def test_invalid_deployment_id(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep(name="Shared_Base")})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:2:3: 'Shared_Base' is not a valid deployment ID"]
    assert "'shared-base'" in error.diagnostics[0].hint
    assert "1-63" in error.diagnostics[0].hint


def test_invalid_ids_long_and_dashes(cfg: ConfigFolder) -> None:
    long = "a" * 64
    errors = cfg.errors({"d.yaml": dep(name=long) + f"  -x-:\n    base_model: {BASE}\n    shape: default\n"})
    assert errors == [f"d.yaml:2:3: '{long}' is not a valid deployment ID", "d.yaml:5:3: '-x-' is not a valid deployment ID"]


def test_invalid_lora_name(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"l.yaml": "loras:\n  Support.Bot:\n    model: accounts/a/models/m\n    serverless: true\n"})
    assert errors == ["l.yaml:2:3: 'Support.Bot' is not a valid lora name"]


def test_display_name_too_long(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("display_name: " + "x" * 64)})
    assert errors == ["d.yaml:4:19: deployments.base.display_name is 64 characters long; at most 63 are allowed"]
    cfg.load({"d.yaml": dep("display_name: " + "x" * 63)})


def test_replicas_min_above_max(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("replicas:", "  min: 3", "  max: 1")})
    assert errors == ["d.yaml:6:12: replicas.max (1) is less than replicas.min (3)"]


def test_replicas_negative(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("replicas:", "  min: -1")})
    assert errors == ["d.yaml:5:12: deployments.base.replicas.min must be at least 0, not -1"]


def test_windows_bounds(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("autoscaling:", "  scale_up_window: 2h", "  scale_down_window: 3601",
                                       "  scale_to_zero_window: 4m59s")})
    assert errors == [
        "d.yaml:5:24: autoscaling.scale_up_window is 2h; Fireworks allows at most 1h",
        "d.yaml:6:26: autoscaling.scale_down_window is 1h1s; Fireworks allows at most 1h",
        "d.yaml:7:29: autoscaling.scale_to_zero_window is 4m59s; Fireworks requires at least 5m",
    ]
    cfg.load({"d.yaml": dep("autoscaling:", "  scale_up_window: 1h", "  scale_down_window: 60m",
                            "  scale_to_zero_window: 300")})


def test_window_syntax(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("autoscaling:", "  scale_up_window: 10 minutes", "  scale_down_window: .inf")})
    assert errors == [
        "d.yaml:5:24: deployments.base.autoscaling.scale_up_window: '10 minutes' is not a valid duration",
        "d.yaml:6:26: autoscaling.scale_down_window: inf is not a duration: it must be a finite number of seconds >= 0",
    ]


def test_load_targets(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("autoscaling:", "  load_targets:", "    default: 1.5",
                                       "    requests_per_secnd: 3")})
    assert errors == [
        "d.yaml:6:18: deployments.base.autoscaling.load_targets.default must be at most 1, not 1.5",
        "d.yaml:7:9: unknown key 'requests_per_secnd' in deployment 'base' (autoscaling.load_targets)",
    ]


def test_placement_exactly_one(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("placement: {}")})
    assert errors == ["d.yaml:4:16: placement must set exactly one of region, multi_region, regions"]
    errors = cfg.errors({"d.yaml": dep("placement:", "  region: US_IOWA_1", "  regions: [US_IOWA_1]")})
    assert errors == ["d.yaml:6:7: placement sets both region and regions; set exactly one of region, multi_region, regions"]


def test_enums_suggest(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep("precision: fp8", "placement: {region: US_IOWA1}", shape=False)
                       + "    accelerator: {type: H100}\n"})
    rendered = [f"{d.span}: {d.message} | {d.hint}" for d in error.diagnostics]
    assert rendered == [
        "d.yaml:4:16: deployments.base.precision: unknown value 'fp8' | did you mean 'FP8'?",
        "d.yaml:5:25: deployments.base.placement.region: unknown value 'US_IOWA1' | did you mean 'US_IOWA_1'?",
        # an accelerator type this version does not know is a warning (issue 10, item 10), listed with the errors
        "d.yaml:6:25: deployments.base.accelerator.type: 'H100' is not known to this version of lorainfra | if it "
        "is a new Fireworks accelerator type, it is sent as written; known types: NVIDIA_A100_80GB, NVIDIA_H100_80GB, "
        "AMD_MI300X_192GB, NVIDIA_A10G_24GB, NVIDIA_A100_40GB, NVIDIA_L4_24GB, NVIDIA_H200_141GB, NVIDIA_B200_180GB, "
        "NVIDIA_B300_288GB, AMD_MI325X_256GB, AMD_MI350X_288GB",
    ]


def test_shape_xor_accelerator(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": dep("accelerator: {type: NVIDIA_H100_80GB}")})
    assert errors == ["d.yaml:5:5: set either shape or accelerator.type, not both"]
    error = cfg.error({"d.yaml": dep(shape=False)})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:2:3: deployment 'base' needs shape or accelerator.type"]
    assert "shape: default" in error.diagnostics[0].hint


def test_shape_excludes_accelerator_count_and_precision(cfg: ConfigFolder) -> None:
    # issue 10 item 4: the shape fixes the accelerator count and the precision
    error = cfg.error({"d.yaml": dep("accelerator: {count: 2}", "precision: FP8")})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:4:19: set either shape or accelerator.count, not both",
        "d.yaml:5:5: set either shape or precision, not both"]
    assert "remove accelerator.count" in error.diagnostics[0].hint
    cfg.load({"d.yaml": dep("accelerator: {type: NVIDIA_H100_80GB, count: 2}", "precision: FP8", shape=False)})


def test_required_keys(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": "deployments:\n  base:\n    shape: default\nloras:\n  l:\n    serverless: true\n"})
    assert errors == [
        "d.yaml:2:3: deployment 'base' is missing the required key 'base_model'",
        "d.yaml:5:3: lora 'l' is missing the required key 'model'",
    ]


def test_wrong_types(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep("display_name: yes", "replicas: {min: two}", "addons: 'true'", "lifecycle: []")})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:4:19: deployments.base.display_name must be a string, not the boolean true",
        "d.yaml:5:21: deployments.base.replicas.min must be an integer, not the string 'two'",
        "d.yaml:6:13: deployments.base.addons must be true or false, not the string 'true'",
        "d.yaml:7:16: deployments.base.lifecycle must be a mapping, not a list",
    ]
    assert "quotes" in error.diagnostics[0].hint


def test_model_name_pattern(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": "deployments:\n  base:\n    base_model: llama-v3p1-8b-instruct\n    shape: default\n"})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:3:17: deployments.base.base_model: 'llama-v3p1-8b-instruct' is not a valid model name"]
    assert "accounts/fireworks/models/" in error.diagnostics[0].hint


def test_lora_deployment_xor_serverless(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": DEP + "loras:\n  a:\n    model: accounts/a/models/m\n    deployment: base\n"
                         "    serverless: true\n  b:\n    model: accounts/a/models/m\n    serverless: false\n"})
    assert errors == [
        "d.yaml:10:5: lora 'a' sets both deployment and serverless: true",
        "d.yaml:11:3: lora 'b' needs deployment: NAME or serverless: true",
    ]


def test_dangling_reference(cfg: ConfigFolder) -> None:
    files = {
        "d.yaml": DEP.replace("base:", "shared-base:") + f"  other:\n    base_model: {BASE}\n    shape: default\n",
        "l.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: shred-base\n",
    }
    error = cfg.error(files)
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "l.yaml:4:17: no deployment 'shred-base'; did you mean 'shared-base'?"]
    assert "declared deployments: other, shared-base" in error.diagnostics[0].hint


def test_reference_by_address_or_full_name(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": DEP + "loras:\n  a:\n    model: accounts/a/models/m\n    deployment: deployment.base\n"
                         "  b:\n    model: accounts/a/models/m\n    deployment: accounts/x/deployments/base\n"})
    assert errors == [
        "d.yaml:9:17: deployment: 'deployment.base' is an address, not a deployment name",
        "d.yaml:12:17: deployment: 'accounts/x/deployments/base' is not a deployment declared in this folder",
    ]


def test_addons_must_be_enabled(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep(), "l.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "l.yaml:4:17: deployment 'base' does not have addons enabled, so lora 'bot' cannot be loaded onto it"]
    assert error.diagnostics[0].hint == "set addons: true on deployment 'base' (d.yaml:2:3)"
    error = cfg.error({"d.yaml": dep("addons: false"), "l.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"})
    assert error.diagnostics[0].hint == "set addons: true on deployment 'base' (d.yaml:4:13)"


def test_base_model_mismatch(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": DEP, "l.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"
                       "    base_model: accounts/fireworks/models/qwen2p5-7b\n"})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        f"l.yaml:5:17: lora 'bot' has base_model accounts/fireworks/models/qwen2p5-7b but deployment 'base' serves {BASE}"]
    assert "d.yaml:3:17" in error.diagnostics[0].hint
    cfg.load({"d.yaml": DEP, "l.yaml": f"loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n    base_model: {BASE}\n"})


def test_serverless_limit(cfg: ConfigFolder) -> None:
    loras = "".join(f"  l{i:03d}:\n    model: accounts/a/models/m{i}\n    serverless: true\n" for i in range(101))
    errors = cfg.errors({"l.yaml": "loras:\n" + loras})
    assert errors == ["l.yaml:302:3: more than 100 serverless LoRAs (101 declared); lora 'l100' is number 101"]
    cfg.load({"l.yaml": "loras:\n" + loras[: loras.index("  l100:")]})


def test_per_deployment_limit(cfg: ConfigFolder) -> None:
    loras = "".join(f"  l{i:03d}:\n    model: accounts/a/models/m{i}\n    deployment: base\n" for i in range(101))
    error = cfg.error({"d.yaml": DEP, "l.yaml": "loras:\n" + loras})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:2:3: deployment 'base' has 101 LoRAs attached; at most 100 are allowed"]
    assert "lora 'l100' at l.yaml:302:3" in error.diagnostics[0].hint


def test_declared_twice_across_files(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"a.yaml": DEP, "b.yaml": "\n" + DEP,
                         "c.yaml": "loras:\n  x: {model: accounts/a/models/m, serverless: true}\n",
                         "d.yaml": "loras:\n  x: {model: accounts/a/models/m, serverless: true}\n"})
    assert errors == [
        "b.yaml:3:3: deployment 'base' is declared twice; first declared at a.yaml:2:3",
        "d.yaml:2:3: lora 'x' is declared twice; first declared at c.yaml:2:3",
    ]


def test_duplicate_key_in_one_file(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"a.yaml": DEP + f"  base:\n    base_model: {BASE}\n"})
    assert errors == ["a.yaml:6:3: duplicate key 'base' in this mapping; first at a.yaml:2:3"]


def test_depends_on_entries(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep("depends_on:", "  - shared-base", "  - deployment.bsae", "  - lora.nothing")})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:5:9: depends_on: 'shared-base' is not an address",
        "d.yaml:6:9: depends_on: no deployment 'bsae' is declared",
        "d.yaml:7:9: depends_on: no lora 'nothing' is declared",
    ]
    assert error.diagnostics[1].hint == "did you mean 'deployment.base'?"


def test_cycles_name_every_member(cfg: ConfigFolder) -> None:
    files = {
        "a.yaml": f"deployments:\n  a:\n    base_model: {BASE}\n    shape: default\n    depends_on: [deployment.b]\n",
        "b.yaml": f"deployments:\n  b:\n    base_model: {BASE}\n    shape: default\n    depends_on: [deployment.a]\n",
    }
    error = cfg.error(files)
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "a.yaml:2:3: dependency cycle: deployment.a -> deployment.b -> deployment.a",
        "b.yaml:2:3: dependency cycle: deployment.a -> deployment.b -> deployment.a",
    ]
    assert "deployment.a (a.yaml:2:3), deployment.b (b.yaml:2:3)" in error.diagnostics[0].hint


def test_cycle_through_a_lora_and_self_loop(cfg: ConfigFolder) -> None:
    files = {"d.yaml": DEP.rstrip("\n") + "\n    depends_on: [lora.bot]\n"
             "  solo:\n    base_model: " + BASE + "\n    shape: default\n    depends_on: [deployment.solo]\n"
             "loras:\n  bot: {model: accounts/a/models/m, deployment: base}\n"}
    errors = cfg.errors(files)
    assert errors == [
        "d.yaml:2:3: dependency cycle: deployment.base -> lora.bot -> deployment.base",
        "d.yaml:7:3: dependency cycle: deployment.solo -> deployment.solo",
        "d.yaml:12:3: dependency cycle: deployment.base -> lora.bot -> deployment.base",
    ]


def test_lifecycle_ignore_changes_unknown(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep("lifecycle:", "  ignore_changes: [replicas.mx, max_replica_count]")})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "d.yaml:5:24: lifecycle.ignore_changes: unknown attribute 'replicas.mx' for a deployment"]
    assert error.diagnostics[0].hint.startswith("did you mean 'replicas.max'?")
    errors = cfg.errors({"l.yaml": "loras:\n  x:\n    model: accounts/a/models/m\n    serverless: true\n"
                         "    lifecycle: {ignore_changes: [base_model]}\n"})
    assert errors == ["l.yaml:5:34: lifecycle.ignore_changes: unknown attribute 'base_model' for a lora"]


def test_unknown_keys_suggest(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": dep("replica: {min: 1}") + "lora:\n  x: {}\n"})
    rendered = [f"{d.span}: {d.message} | {d.hint.split(' allowed')[0]}" for d in error.diagnostics]
    assert rendered == [
        "d.yaml:4:5: unknown key 'replica' in deployment 'base' | did you mean 'replicas'?",
        "d.yaml:6:1: unknown top-level key 'lora' in d.yaml | did you mean 'loras'?",
    ]


def test_provider_and_state_only_in_main_file(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": "provider: {account: x}\nstate:\n  backend: local\n"})
    assert errors == [
        "d.yaml:1:1: provider: is only allowed in lorainfra.yaml",
        "d.yaml:2:1: state: is only allowed in lorainfra.yaml",
    ]


def test_empty_files(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"lorainfra.yaml": "# nothing yet\n"})
    assert errors == ["lorainfra.yaml:1:1: lorainfra.yaml is empty: missing provider"]
    errors = cfg.errors({"lorainfra.yaml": "state: {backend: local}\n"})
    assert errors == ["lorainfra.yaml:1:1: lorainfra.yaml is missing provider"]
    config = cfg.load({"empty.yaml": "", "comments.yaml": "# later\n", "nulls.yaml": "deployments:\nloras:\n"})
    assert config.resources == {}


def test_top_level_not_a_mapping(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": "- deployments\n- loras\n", "e.yaml": "just text\n"})
    assert errors == [
        "d.yaml:1:1: the top level of d.yaml must be a mapping (provider:, state:, deployments:, loras:), not a list",
        "e.yaml:1:1: the top level of e.yaml must be a mapping (provider:, state:, deployments:, loras:), not a value",
    ]


def test_provider_checks(cfg: ConfigFolder) -> None:
    main = ("provider:\n  account: Quick_Start\n  endpoint: https://api.fireworks.ai/v1/\n"
            "  emulator:\n    ready_after: soon\n")
    errors = cfg.errors({"lorainfra.yaml": main})
    assert errors == [
        "lorainfra.yaml:2:12: provider.account: 'Quick_Start' is not a valid ID",
        "lorainfra.yaml:3:13: provider.endpoint must not end in /v1",
        "lorainfra.yaml:4:3: provider.emulator applies only to endpoint: local",
        "lorainfra.yaml:5:18: provider.emulator.ready_after: 'soon' is not a valid duration",
    ]
    for endpoint in ("ftp://x", "localhost:8080", "https://", "https://u:p@host", "http://h/?q=1", "remote"):
        errors = cfg.errors({"lorainfra.yaml": f"provider:\n  endpoint: '{endpoint}'\n"})
        assert len(errors) == 1 and errors[0].startswith("lorainfra.yaml:2:13: provider.endpoint must")
    cfg.load({"lorainfra.yaml": "provider:\n  endpoint: http://127.0.0.1:8080/prefix\n"})


def test_emulator_seed_inside_folder_is_rejected(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"lorainfra.yaml": "provider:\n  endpoint: local\n  emulator:\n    seed: ./models.yaml\n"})
    assert errors == ["lorainfra.yaml:4:11: the emulator seed file './models.yaml' would be read as a config file"]


def test_state_checks_never_echo_a_dsn(cfg: ConfigFolder) -> None:
    secret = "postgresql://admin:hunter2@db.example.com/lorainfra"
    error = cfg.error({"lorainfra.yaml": f"provider: {{}}\nstate:\n  backend: postgres\n  dsn_env: {secret}\n"})
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        "lorainfra.yaml:4:12: state.dsn_env looks like a DSN or URL; it must name an environment variable"]
    assert "hunter2" not in str(error)
    assert "rotate the password" in error.diagnostics[0].hint
    errors = cfg.errors({"lorainfra.yaml": "provider: {}\nstate:\n  backend: postgres\n  path: s.json\n"})
    assert errors == [
        "lorainfra.yaml:3:3: the postgres backend needs state.dsn_env",
        "lorainfra.yaml:4:3: state.path applies only to backend: local",
    ]
    errors = cfg.errors({"lorainfra.yaml": "provider: {}\nstate:\n  dsn_env: PG\n  workspace: Prod\n"})
    assert errors == [
        "lorainfra.yaml:3:3: state.dsn_env applies only to backend: postgres",
        "lorainfra.yaml:4:3: state.workspace applies only to backend: postgres",
        "lorainfra.yaml:4:14: state.workspace: 'Prod' is not a valid ID",
    ]


def test_diagnostics_name_the_resource_they_are_about(cfg: ConfigFolder) -> None:
    error = cfg.error({"d.yaml": DEP.replace("shape: default", "replicas: {min: 3, max: 1}\n    shape: default"),
                       "l.yaml": "loras:\n  Bad_Name: {model: accounts/a/models/m, serverless: true}\n",
                       "x.yaml": "unknown_top: 1\n"})
    about = {(d.address, d.severity) for d in error.diagnostics}
    assert about == {("deployment.base", "error"), ("lora.Bad_Name", "error"), ("", "error")}
    assert all(d.render().startswith(f"{d.span}: error: ") for d in error.diagnostics)


def test_the_checks_of_one_load_group_declarations_once(cfg: ConfigFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each LoRA's check looks its deployment up in a table built once per load, not once per LoRA."""
    from lorainfra.kinds.base import DeclContext

    many = "loras:\n" + "".join(f"  l{i}: {{model: accounts/a/models/m{i}, deployment: base}}\n" for i in range(90))
    original = DeclContext.__dict__["_by_kind"].func
    calls: list[int] = []

    def counting(self: DeclContext) -> dict[str, dict[str, object]]:
        calls.append(1)
        return original(self)  # type: ignore[no-any-return]

    grouped = cached_property(counting)
    grouped.__set_name__(DeclContext, "_by_kind")
    monkeypatch.setattr(DeclContext, "_by_kind", grouped)
    assert len(cfg.load({"d.yaml": DEP, "l.yaml": many}).resources) == 91
    assert len(calls) == 1


def test_provider_limits_set_the_serverless_limits(cfg: ConfigFolder) -> None:
    # issue 10 item 2: 3 serverless LoRAs per base model (the documented Preview) unless provider.limits says more
    glm = "accounts/fireworks/models/glm-5p3-flash"
    loras = "loras:\n" + "".join(f"  s{i}:\n    model: accounts/a/models/s{i}\n    base_model: {glm}\n"
                                 "    serverless: true\n" for i in range(4))
    errors = cfg.errors({"l.yaml": loras})
    assert errors == [f"l.yaml:14:3: more than 3 serverless LoRAs on base model '{glm}' (4 declared); lora 's3' is number 4"]
    main = "provider:\n  account: acme\n  endpoint: local\n  limits: {serverless_per_base_model: 4, serverless: 3}\n"
    errors = cfg.errors({"lorainfra.yaml": main, "l.yaml": loras})
    assert errors == ["l.yaml:14:3: more than 3 serverless LoRAs (4 declared); lora 's3' is number 4"]
    main = main.replace("serverless: 3", "serverless: 4")
    assert cfg.load({"lorainfra.yaml": main, "l.yaml": loras}).provider.limits.serverless_per_base_model == 4
