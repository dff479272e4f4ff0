"""Plan files: a saved plan with its fingerprint, written 0600, read back for ``apply PLANFILE``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lorainfra.errors import LorainfraError, StalePlanError
from lorainfra.plan.jsonplan import plan_from_json, plan_to_json
from lorainfra.plan.model import Fingerprint, Plan

KIND = "lorainfra-plan"
MAX_PLAN_BYTES = 64 * 1024 * 1024  # far above any real plan; /dev/zero or a wrong file must not be read forever


def write_plan_file(path: str | os.PathLike[str], plan: Plan, *, config_dir: str) -> None:
    """Atomically write the plan (mode 0600: plans are reviewed artefacts, not for everyone)."""
    target = Path(path)
    doc = {"kind": KIND, "config_dir": config_dir, "plan": plan_to_json(plan)}
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_plan_file(path: str | os.PathLike[str]) -> tuple[Plan, str, dict[str, Any]]:
    """(plan, config_dir, raw JSON) from a plan file, or a clear error saying what is wrong with it."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PLAN_BYTES + 1)
        if len(data) > MAX_PLAN_BYTES:
            raise LorainfraError(f"{path}: larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB: not a lorainfra plan "
                                 "file (make one with `lorainfra plan --out FILE`)")
        doc = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LorainfraError(f"{path}: not a readable lorainfra plan file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("plan"), dict):
        raise LorainfraError(f"{path}: not a lorainfra plan file (make one with `lorainfra plan --out FILE`)")
    try:
        plan = plan_from_json(doc["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LorainfraError(f"{path}: plan file is damaged or of another version: {exc}") from exc
    return plan, str(doc.get("config_dir", "")), doc["plan"]


def stale_reasons(saved: Fingerprint, current: Fingerprint, saved_digests: dict[str, str],
                  current_digests: dict[str, str]) -> list[str]:
    """Why a saved plan no longer applies (empty when it is still current)."""
    reasons = []
    if saved.lineage and saved.lineage != current.lineage:
        reasons.append(f"the state is of another lineage ({saved.lineage} -> {current.lineage})")
    elif saved.serial != current.serial:
        reasons.append(f"the state changed since the plan was made (serial {saved.serial} -> {current.serial}): "
                       "someone applied in between")
    if saved.config_digest != current.config_digest:
        reasons.append("the config files changed since the plan was made")
    if saved.observed_digest != current.observed_digest:
        changed = sorted(n for n in set(saved_digests) | set(current_digests)
                         if saved_digests.get(n) != current_digests.get(n))
        listed = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        reasons.append(f"live objects changed since the plan was made: {listed or 'the set of objects'}")
    return reasons


def ensure_fresh(saved: Plan, current: Plan) -> None:
    reasons = stale_reasons(saved.fingerprint, current.fingerprint, dict(saved.observed_digests),
                            dict(current.observed_digests))
    if reasons:
        raise StalePlanError(
            "the saved plan is stale and was not applied:\n  - " + "\n  - ".join(reasons)
            + "\nRun `lorainfra plan --out FILE` again and review the new plan."
        )
