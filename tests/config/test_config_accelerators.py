"""Accelerator types (issue 10, item 10): the known list follows Fireworks; an unknown type is a warning.

A new GPU must never block users: a type this version of lorainfra does not know is a warning
("not known to this version of lorainfra"), validate and plan go on, and values read back from the
server are never rejected. Only malformed values (lower case, ACCELERATOR_TYPE_UNSPECIFIED) are errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from cfgkit import BASE, ConfigFolder

from lorainfra.errors import Diagnostic, Span
from lorainfra.kinds.accelerators import known_accelerator_types
from lorainfra.kinds.registry import kind_of

BIN = Path(sys.executable).parent / "lorainfra"


def shapeless(accelerator: str) -> dict[str, str | bytes]:
    return {"d.yaml": f"deployments:\n  base:\n    base_model: {BASE}\n    accelerator: {{type: {accelerator}, count: 8}}\n"}


def test_known_types_cover_the_sdk_enum_and_b300() -> None:
    """Every type of the fireworks-ai SDK's enum (generated from the OpenAPI spec) plus NVIDIA_B300_288GB,
    which the current firectl reference lists (docs.fireworks.ai/tools-sdks/firectl/commands/deployment-create)."""
    from fireworks.types.deployment_create_params import DeploymentCreateParams

    hint = typing.get_type_hints(DeploymentCreateParams, include_extras=True)["accelerator_type"]
    sdk = {value for value in typing.get_args(typing.get_args(hint)[0]) if not value.endswith("UNSPECIFIED")}
    known = set(known_accelerator_types())
    assert sdk <= known
    assert known - sdk == {"NVIDIA_B300_288GB"}


@pytest.mark.parametrize("accelerator", ["NVIDIA_B300_288GB", "NVIDIA_B200_180GB", "AMD_MI350X_288GB"])
def test_known_types_load_without_warnings(cfg: ConfigFolder, accelerator: str) -> None:
    config = cfg.load(shapeless(accelerator))
    assert next(iter(config.resources.values())).attributes["accelerator_type"] == accelerator
    assert config.warnings == ()


def test_unknown_type_is_a_warning_not_an_error(cfg: ConfigFolder) -> None:
    config = cfg.load(shapeless("NVIDIA_X900_1TB"))
    assert next(iter(config.resources.values())).attributes["accelerator_type"] == "NVIDIA_X900_1TB"
    assert len(config.warnings) == 1
    warning = config.warnings[0]
    assert warning.severity == "warning"
    assert warning.span == Span("d.yaml", 4, 25)
    assert warning.message == ("deployments.base.accelerator.type: 'NVIDIA_X900_1TB' is not known to this version "
                               "of lorainfra")
    assert "NVIDIA_B300_288GB" in warning.hint
    assert warning.render().startswith("d.yaml:4:25: warning: deployments.base.accelerator.type")


def test_a_typo_is_a_warning_with_a_suggestion(cfg: ConfigFolder) -> None:
    warning = cfg.load(shapeless("NVIDIA_H100")).warnings[0]
    assert "did you mean 'NVIDIA_H100_80GB'?" in warning.hint


@pytest.mark.parametrize(("value", "column"), [("h100", 25), ("ACCELERATOR_TYPE_UNSPECIFIED", 25), ("'NVIDIA H100'", 25)])
def test_malformed_types_are_still_errors(cfg: ConfigFolder, value: str, column: int) -> None:
    error = cfg.error(shapeless(value))
    assert [(d.span, d.severity) for d in error.diagnostics] == [(Span("d.yaml", 4, column), "error")]
    assert "is not a valid accelerator type" in error.diagnostics[0].message


def test_errors_and_warnings_are_reported_together(cfg: ConfigFolder) -> None:
    files = shapeless("NVIDIA_X900_1TB")
    files["d.yaml"] = str(files["d.yaml"]) + "    replicas: {min: 3, max: 1}\n"
    error = cfg.error(files)
    assert sorted(d.severity for d in error.diagnostics) == ["error", "warning"]
    assert "d.yaml:4:25: warning: " in str(error)


def test_diagnostics_default_to_error() -> None:
    assert Diagnostic(Span("f.yaml", 1, 1), "m", "h").severity == "error"
    assert Diagnostic(Span("f.yaml", 1, 1), "m", "h").render() == "f.yaml:1:1: error: m\n  hint: h"


def test_values_read_back_from_the_server_are_never_rejected() -> None:
    remote = kind_of("deployment").from_wire({"name": "accounts/a/deployments/base", "baseModel": BASE,
                                      "acceleratorType": "NVIDIA_Z999_4TB", "acceleratorCount": 2**40},
                       account="a")
    assert remote.attributes["accelerator_type"] == "NVIDIA_Z999_4TB"
    assert remote.attributes["accelerator_count"] == 2**40


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWORKS_")}
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_validate_prints_the_warning_and_succeeds(cfg: ConfigFolder) -> None:
    validate = _cli("validate", str(cfg.write(shapeless("NVIDIA_X900_1TB"))))
    assert validate.returncode == 0, validate.stderr
    assert "d.yaml:4:25: warning: deployments.base.accelerator.type: 'NVIDIA_X900_1TB' is not known" in validate.stderr
    assert "Success!" in validate.stdout


def test_plan_with_b300_against_the_emulator(cfg: ConfigFolder) -> None:
    plan = _cli("plan", str(cfg.write(shapeless("NVIDIA_B300_288GB"))), "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr  # 2: changes to make, no error
    assert "not known to this version" not in plan.stderr  # B300 is a known type: no accelerator warning
    assert "NVIDIA_B300_288GB" in plan.stdout


def test_plan_prints_the_warning_and_goes_on(cfg: ConfigFolder, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A type the server accepts but this version does not know (simulated: H100 left out of the list)."""
    from lorainfra.cli.app import main
    from lorainfra.kinds import accelerators as loader

    known = tuple(t for t in loader.known_accelerator_types() if t != "NVIDIA_H100_80GB")
    monkeypatch.setattr(loader, "known_accelerator_types", lambda: known)
    for name in [n for n in os.environ if n.startswith("FIREWORKS_")]:
        monkeypatch.delenv(name)
    folder = cfg.write(shapeless("NVIDIA_H100_80GB"))
    with pytest.raises(SystemExit) as exited:
        main(["plan", str(folder), "--detailed-exitcode"])
    out, err = capsys.readouterr()
    assert exited.value.code == 2, out + err
    assert "d.yaml:4:25: warning: deployments.base.accelerator.type: 'NVIDIA_H100_80GB' is not known" in err
    assert "1 to add" in out


def test_a_config_error_with_a_warning_counts_only_errors(cfg: ConfigFolder) -> None:
    files = shapeless("NVIDIA_X900_1TB")
    files["d.yaml"] = str(files["d.yaml"]) + "    replicas: {min: 3, max: 1}\n"
    result = _cli("validate", str(cfg.write(files)))
    assert result.returncode == 1
    assert "1 error in the config" in result.stderr
    assert "warning:" in result.stderr

