"""Deployment shapes and shape versions: built-in catalog, list/get/match, and shape resolution."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from lorainfra.emulator import catalog
from lorainfra.emulator.clock import parse_rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import invalid, not_found, precondition
from lorainfra.emulator.paging import ListQuery, run_list
from lorainfra.emulator.store import get_row, upsert_row

SHAPES = "accounts/fireworks/deploymentShapes"
COLUMNS = {"name": "name", "createTime": "create_time", "updateTime": "update_time"}
VERSION_COLUMNS = {**COLUMNS, "shape": "shape"}
_VERSION_TIMES = {"v1": "2025-01-15T00:00:00Z", "v2": "2025-04-01T00:00:00Z", "v3": "2025-09-01T00:00:00Z"}

# (shape id, base model, accelerator, count, precision, enableAddons, preset)
_SHAPES: tuple[tuple[str, str, str, int, str, bool, str], ...] = (
    ("llama-v3p1-8b-instruct-fast", catalog.LLAMA_8B, "NVIDIA_H100_80GB", 1, "FP8", False, "FAST"),
    (
        "llama-v3p1-8b-instruct-multi-lora",
        catalog.LLAMA_8B,
        "NVIDIA_H100_80GB",
        1,
        "FP16",
        True,
        "THROUGHPUT",
    ),
    ("llama-v3p1-70b-instruct-fast", catalog.LLAMA_70B, "NVIDIA_H100_80GB", 4, "FP8", False, "FAST"),
    (
        "llama-v3p1-70b-instruct-multi-lora",
        catalog.LLAMA_70B,
        "NVIDIA_H200_141GB",
        4,
        "FP8",
        True,
        "THROUGHPUT",
    ),
    ("qwen2p5-7b-instruct-multi-lora", catalog.QWEN_7B, "NVIDIA_A100_80GB", 1, "BF16", True, "THROUGHPUT"),
    ("mixtral-8x7b-instruct-fast", catalog.MIXTRAL, "NVIDIA_H100_80GB", 2, "FP8", False, "FAST"),
    ("deepseek-v3-fast", catalog.DEEPSEEK, "NVIDIA_H200_141GB", 8, "FP8", False, "FAST"),
    ("glm-5p3-flash-multi-lora", catalog.GLM_FLASH, "NVIDIA_H100_80GB", 2, "FP8", True, "THROUGHPUT"),
)


def _snapshot(spec: tuple[str, str, str, int, str, bool, str], version: str) -> dict[str, Any]:
    shape_id, base, accel, count, precision, addons, preset = spec
    ts = _VERSION_TIMES[version]
    snap: dict[str, Any] = {
        "name": f"{SHAPES}/{shape_id}",
        "baseModel": base,
        "displayName": shape_id.replace("-", " "),
        "description": f"{preset.lower()} shape for {base.rsplit('/', 1)[1]}",
        "createTime": _VERSION_TIMES["v1"],
        "updateTime": ts,
        "acceleratorType": accel,
        "acceleratorCount": count,
        "precision": precision,
        "enableAddons": addons,
        "presetType": preset,
        "maxContextLength": 131072 if version != "v1" else 32768,
    }
    if addons:
        snap["numLoraDeviceCached"] = 100
    return snap


def builtin_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for spec in _SHAPES:
        name = f"{SHAPES}/{spec[0]}"
        latest = _snapshot(spec, "v2")
        t0 = parse_rfc3339(_VERSION_TIMES["v1"])
        shapes.append(_row(name, spec[0], t0, parse_rfc3339(_VERSION_TIMES["v2"]), latest))
        for vid, validated, is_latest in (("v1", True, False), ("v2", True, True), ("v3", False, False)):
            ts = parse_rfc3339(_VERSION_TIMES[vid])
            vname = f"{name}/versions/{vid}"
            data: dict[str, Any] = {
                "name": vname,
                "createTime": _VERSION_TIMES[vid],
                "snapshot": _snapshot(spec, vid),
                "validated": validated,
                "latestValidated": is_latest,
                "public": True,
            }
            versions.append({**_row(vname, vid, ts, ts, data), "shape": name})
    return shapes, versions


def _row(name: str, rid: str, created: float, updated: float, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": "fireworks",
        "id": rid,
        "name": name,
        "state": "",
        "create_time": created,
        "update_time": updated,
        "data": data,
        "internal": {},
    }


def install(db: sqlite3.Connection) -> None:
    shapes, versions = builtin_rows()
    for row in shapes:
        upsert_row(db, "deployment_shapes", row)
    for row in versions:
        upsert_row(db, "deployment_shape_versions", row)


def _shape_row(db: sqlite3.Connection, account: str, shape_id: str) -> dict[str, Any]:
    for name in (f"accounts/{account}/deploymentShapes/{shape_id}", f"{SHAPES}/{shape_id}"):
        row = get_row(db, "deployment_shapes", name)
        if row is not None:
            return row
    raise not_found("deployment shape", f"accounts/{account}/deploymentShapes/{shape_id}")


def get_shape(ctx: Ctx, account: str, shape_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        return _shape_row(db, account, shape_id)["data"]


def list_shapes(
    ctx: Ctx, account: str, params: dict[str, Any], target_model: str | None
) -> tuple[list[str], str, int]:
    where: list[str] = []
    args: list[Any] = []
    with ctx.tx() as (db, _):
        if target_model:
            where.append("json_extract(data, '$.baseModel') = ?")
            args.append(resolve_base(db, target_model))
        q = ListQuery("deployment_shapes", tuple(where), tuple(args), COLUMNS, "create_time", **params)
        return run_list(db, q)


def list_versions(ctx: Ctx, account: str, shape_id: str, params: dict[str, Any]) -> tuple[list[str], str, int]:
    where: list[str] = []
    args: list[Any] = []
    with ctx.tx() as (db, _):
        if shape_id != "-":
            where.append("shape = ?")
            args.append(_shape_row(db, account, shape_id)["name"])
        q = ListQuery(
            "deployment_shape_versions", tuple(where), tuple(args), VERSION_COLUMNS, "create_time", **params
        )
        return run_list(db, q)


def get_version(ctx: Ctx, account: str, shape_id: str, version_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        shape = _shape_row(db, account, shape_id)
        if version_id == "latest":
            return _latest(db, shape["name"])
        row = get_row(db, "deployment_shape_versions", f"{shape['name']}/versions/{version_id}")
        if row is None:
            raise not_found("deployment shape version", f"{shape['name']}/versions/{version_id}")
        return row["data"]


def _latest(db: sqlite3.Connection, shape_name: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT data FROM deployment_shape_versions WHERE shape = ? AND "
        "json_extract(data, '$.latestValidated') = 1",
        (shape_name,),
    ).fetchone()
    if row is None:
        raise precondition(f"deployment shape {shape_name!r} has no validated version")
    return dict(json.loads(row["data"]))


def resolve_base(db: sqlite3.Connection, model_name: str) -> str:
    """LoRA / live-merge models resolve to their PEFT base model; other names are returned unchanged."""
    row = get_row(db, "models", model_name)
    if row is not None:
        base = (row["data"].get("peftDetails") or {}).get("baseModel")
        if base:
            return str(base)
    return model_name


def match(ctx: Ctx, account: str, body: dict[str, Any]) -> dict[str, Any]:
    req = body.get("createDeploymentRequest") or body.get("create_deployment_request")
    if not isinstance(req, dict) or not isinstance(req.get("deployment"), dict):
        raise invalid("createDeploymentRequest.deployment is required", field="createDeploymentRequest")
    dep = req["deployment"]
    base_model = dep.get("baseModel") or dep.get("base_model")
    if not isinstance(base_model, str) or not base_model:
        raise invalid("createDeploymentRequest.deployment.baseModel is required", field="baseModel")
    addons = bool(dep.get("enableAddons", dep.get("enable_addons", False)))
    with ctx.tx() as (db, _):
        found = candidates(db, resolve_base(db, base_model), addons)
    return {"deploymentShapeVersions": found, "nextPageToken": "", "totalSize": len(found)}


def candidates(db: sqlite3.Connection, base: str, addons: bool) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT data FROM deployment_shape_versions WHERE json_extract(data, '$.latestValidated') = 1 "
        "AND json_extract(data, '$.snapshot.baseModel') = ? ORDER BY create_time, name",
        (base,),
    ).fetchall()
    out = [json.loads(r["data"]) for r in rows]
    if addons:
        out = [v for v in out if v["snapshot"].get("enableAddons")]
    return out


def resolve(
    db: sqlite3.Connection, account: str, value: str, base: str, addons: bool, skip_validation: bool
) -> dict[str, Any]:
    """Resolve a deploymentShape value ("default", shape name or version name) to a version object."""
    if value == "default":
        found = candidates(db, base, addons) or ([] if addons else candidates(db, base, True))
        if not found:
            raise precondition(f"no validated deployment shape for base model {base!r}", reason="NO_SHAPE")
        version = found[0]
    else:
        parts = value.split("/")
        if (
            len(parts) not in (4, 6)
            or parts[0] != "accounts"
            or parts[2] != "deploymentShapes"
            or (len(parts) == 6 and parts[4] != "versions")
        ):
            raise invalid(f"deploymentShape: invalid shape name {value!r}", field="deploymentShape")
        shape = _shape_row(db, parts[1], parts[3])
        if len(parts) == 4:
            version = _latest(db, shape["name"])
        else:
            row = get_row(db, "deployment_shape_versions", f"{shape['name']}/versions/{parts[5]}")
            if row is None:
                raise not_found("deployment shape version", value)
            version = row["data"]
    if not skip_validation:
        snap = version["snapshot"]
        if not version.get("validated"):
            raise invalid(
                f"deployment shape version {version['name']!r} is not validated "
                "(pass skipShapeValidation=true to use it)",
                field="deploymentShape",
            )
        if snap.get("baseModel") != base:
            raise invalid(
                f"deployment shape {version['name']!r} is for {snap.get('baseModel')!r}, not {base!r}",
                field="deploymentShape",
            )
        if addons and not snap.get("enableAddons"):
            raise invalid(
                f"deployment shape {version['name']!r} is not MULTI_LORA-capable but enableAddons=true",
                field="deploymentShape",
            )
    return version
