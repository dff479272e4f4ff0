"""Plan files: a saved plan with its fingerprint, written 0600, read back for ``apply PLANFILE``.

A plan file is ``{"kind", "format", "lorainfra_version", "config_dir", "plan", "digest"}``. The digest
(SHA-256 of the canonical JSON of everything else) makes any edit visible; a file of another format or
lorainfra version is refused rather than guessed at. The digest is not a signature: whoever can write
the file can recompute it, which is why ``apply`` also re-checks the lifecycle rules against the
current config (``ensure_lifecycle``) and the plan's fingerprint against the current inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lorainfra import __version__
from lorainfra.addresses import Address
from lorainfra.config.model import Resource
from lorainfra.errors import ConfigError, LorainfraError, StalePlanError
from lorainfra.plan.jsonplan import plan_from_json, plan_to_json
from lorainfra.plan.lifecycle import prevent_destroy_violations
from lorainfra.plan.model import Fingerprint, Plan

KIND = "lorainfra-plan"
FORMAT = 2  # 1: no format, version or digest (refused); 2: digest and lorainfra version
AGAIN = "make the plan again with `lorainfra plan --out FILE` and review it"


def plan_file_digest(doc: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON (sorted keys, no spaces) of ``doc`` without its digest."""
    body = {k: v for k, v in doc.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

MAX_PLAN_BYTES = 64 * 1024 * 1024  # far above any real plan; /dev/zero or a wrong file must not be read forever


def write_plan_file(path: str | os.PathLike[str], plan: Plan, *, config_dir: str) -> None:
    """Atomically write the plan (mode 0600: plans are reviewed artefacts, not for everyone)."""
    target = Path(path)
    doc: dict[str, Any] = {
        "kind": KIND,
        "format": FORMAT,
        "lorainfra_version": __version__,
        "config_dir": config_dir,
        "plan": plan_to_json(plan),
    }
    doc["digest"] = plan_file_digest(doc)
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
    check_plan_document(doc, str(path))
    try:
        plan = plan_from_json(doc["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LorainfraError(f"{path}: plan file is damaged or of another version: {exc}") from exc
    return plan, str(doc.get("config_dir", "")), doc["plan"]


def check_plan_document(doc: Mapping[str, Any], where: str, *, version: str = __version__) -> None:
    """Refuse a plan document of another format or lorainfra version, or one changed since it was written."""
    fmt = doc.get("format", 1)
    if fmt != FORMAT:
        raise LorainfraError(
            f"{where}: plan file format {fmt} is not the one this lorainfra ({version}) reads "
            f"(format {FORMAT}); it was not applied: {AGAIN}"
        )
    made_by = doc.get("lorainfra_version")
    if made_by != version:
        by = f"lorainfra {made_by}" if made_by else "an unknown lorainfra version"
        raise LorainfraError(
            f"{where}: the plan was made by {by}, this is lorainfra {version}; it was not applied: {AGAIN}"
        )
    digest = doc.get("digest")
    if not isinstance(digest, str) or digest != plan_file_digest(doc):
        what = "has no digest" if not digest else "has been changed since `lorainfra plan --out` wrote it"
        raise LorainfraError(
            f"{where}: the plan file {what} (its content does not match its digest); it was not applied: "
            f"{AGAIN}"
        )


def ensure_lifecycle(plan: Plan, resources: Mapping[Address, Resource]) -> None:
    """Refuse a (saved) plan that breaks a lifecycle rule of the current config (ConfigError)."""
    problems = prevent_destroy_violations(plan.changes, resources)
    if problems:
        raise ConfigError(problems)


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
