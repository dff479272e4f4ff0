"""Models: catalog install, create/get/list/update/delete, prepare, and the validation of model fields."""

from __future__ import annotations

import sqlite3
from typing import Any

from lorainfra.emulator import catalog
from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import parse_rfc3339, rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.deployed_models import refs_for
from lorainfra.emulator.errors import (
    PERMISSION_DENIED,
    RpcError,
    already_exists,
    invalid,
    not_found,
    precondition,
)
from lorainfra.emulator.paging import ListQuery, run_list
from lorainfra.emulator.store import delete_row, get_row, insert_row, require_row, update_row, upsert_row

TABLE = "models"
COLUMNS = {"name": "name", "createTime": "create_time", "updateTime": "update_time", "state": "state"}
CATALOG_TIME = parse_rfc3339("2024-07-23T00:00:00Z")
SETTABLE = frozenset(
    {
        "kind",
        "displayName",
        "description",
        "peftDetails",
        "baseModelDetails",
        "teftDetails",
        "conversationConfig",
        "contextLength",
        "trainingContextLength",
        "defaultDraftModel",
        "defaultDraftTokenCount",
        "deprecationDate",
        "githubUrl",
        "huggingFaceUrl",
        "public",
        "supportsImageInput",
        "supportsTools",
        "supportsLora",
        "useHfApplyChatTemplate",
        "snapshotType",
    }
)
ADDON_KINDS = frozenset({"HF_PEFT_ADDON", "HF_TEFT_ADDON"})


def name_of(account: str, model_id: str) -> str:
    return f"accounts/{account}/models/{model_id}"


def install(db: sqlite3.Connection, seeds: tuple[dict[str, Any], ...]) -> None:
    """(Re)install the built-in catalog and the seed models; user-created models are left alone."""
    for i, model in enumerate([*catalog.builtin_models(), *seeds]):
        m = v.MODEL_NAME_RE.match(str(model.get("name", "")))
        if not m:
            raise ValueError(f"seed model needs a name 'accounts/<a>/models/<m>': {model!r}")
        ts = CATALOG_TIME + i
        data = {"state": "READY", "createTime": rfc3339(ts), "updateTime": rfc3339(ts), **model}
        data.setdefault("kind", "HF_PEFT_ADDON" if "peftDetails" in data else "HF_BASE_MODEL")
        upsert_row(
            db,
            TABLE,
            {
                "account": m.group(1),
                "id": m.group(2),
                "name": data["name"],
                "state": data["state"],
                "create_time": ts,
                "update_time": ts,
                "next_at": None,
                "data": data,
                "internal": {},
                "builtin": 1,
                "base_model": (data.get("peftDetails") or {}).get("baseModel"),
            },
        )


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in body.items():
        key = v.camel(raw_key)
        if key not in SETTABLE or value is None:
            continue
        if key in ("peftDetails", "baseModelDetails", "conversationConfig", "deprecationDate") and isinstance(
            value, dict
        ):
            value = {v.camel(k): val for k, val in value.items()}
        out[key] = value
    return out


def _validate(db: sqlite3.Connection, spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    kind = v.check_enum(spec.get("kind") or "HF_PEFT_ADDON", v.MODEL_KINDS, field="kind")
    if kind == "KIND_UNSPECIFIED":
        kind = "HF_PEFT_ADDON"
    spec["kind"] = kind
    if "displayName" in spec:
        v.check_str(spec["displayName"], field="displayName", max_len=64)
    if "description" in spec:
        v.check_str(spec["description"], field="description", max_len=1000)
    for key in ("contextLength", "trainingContextLength", "defaultDraftTokenCount"):
        if key in spec:
            spec[key] = v.check_int(spec[key], field=key, minimum=0)
    for key in ("public", "supportsImageInput", "supportsTools", "supportsLora", "useHfApplyChatTemplate"):
        if key in spec:
            v.check_bool(spec[key], field=key)
    if "snapshotType" in spec:
        v.check_enum(spec["snapshotType"], v.SNAPSHOT_TYPES, field="snapshotType")
    if spec.get("defaultDraftModel") and not spec.get("defaultDraftTokenCount"):
        raise invalid(
            "defaultDraftTokenCount is required when defaultDraftModel is set", field="defaultDraftTokenCount"
        )
    conv = spec.get("conversationConfig")
    if conv is not None and not (
        isinstance(conv, dict) and isinstance(conv.get("style"), str) and conv["style"]
    ):
        raise invalid("conversationConfig.style is required", field="conversationConfig.style")
    if kind in ADDON_KINDS:
        spec["peftDetails"] = _peft(db, spec.get("peftDetails"))
    elif "peftDetails" in spec:
        raise invalid(f"peftDetails must not be set for kind {kind}", field="peftDetails")
    details = spec.get("baseModelDetails")
    if kind == "HF_BASE_MODEL":
        details = v.check_object(details, field="baseModelDetails") if details is not None else None
        if details is None:
            raise invalid("baseModelDetails is required for HF_BASE_MODEL", field="baseModelDetails")
        if "checkpointFormat" in details:
            v.check_enum(
                details["checkpointFormat"], v.CHECKPOINT_FORMATS, field="baseModelDetails.checkpointFormat"
            )
        if "parameterCount" in details:
            details["parameterCount"] = str(
                v.check_int(details["parameterCount"], field="baseModelDetails.parameterCount", minimum=0)
            )
        details.setdefault("worldSize", 1)
    elif details is not None:
        raise invalid(f"baseModelDetails must not be set for kind {kind}", field="baseModelDetails")
    return spec


def _peft(db: sqlite3.Connection, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid("peftDetails is required for LoRA (HF_PEFT_ADDON) models", field="peftDetails")
    base = v.check_model_name(raw.get("baseModel"), field="peftDetails.baseModel")
    r = v.check_int(raw.get("r"), field="peftDetails.r", minimum=4, maximum=64)
    modules = v.check_str_list(raw.get("targetModules"), field="peftDetails.targetModules")
    if not modules:
        raise invalid("peftDetails.targetModules must not be empty", field="peftDetails.targetModules")
    bad = sorted(set(modules) - v.TARGET_MODULES)
    if bad:
        raise invalid(
            f"peftDetails.targetModules: unsupported module(s) {', '.join(bad)}",
            field="peftDetails.targetModules",
        )
    base_row = get_row(db, TABLE, base)
    if base_row is None:
        raise not_found("model", base)
    if not base_row["data"].get("supportsLora"):
        raise invalid(f"base model {base!r} does not support LoRA addons", field="peftDetails.baseModel")
    out = {**raw, "baseModel": base, "r": r, "targetModules": modules}
    model_type = (base_row["data"].get("baseModelDetails") or {}).get("modelType")
    if model_type:
        out["baseModelType"] = model_type
    return out


def create(ctx: Ctx, account: str, body: dict[str, Any]) -> dict[str, Any]:
    model_id = v.check_id(body.get("modelId", body.get("model_id")), what="model", field="modelId")
    raw = body.get("model") or {}
    spec = _spec(v.check_object(raw, field="model"))
    cluster = body.get("cluster")
    with ctx.tx() as (db, now):
        name = name_of(account, model_id)
        if get_row(db, TABLE, name) is not None:
            raise already_exists("model", name)
        spec = _validate(db, spec)
        data = {
            **spec,
            "name": name,
            "createTime": rfc3339(now),
            "updateTime": rfc3339(now),
            "state": "UPLOADING",
            "status": {"code": "OK", "message": ""},
        }
        if cluster:
            data["cluster"] = v.check_str(cluster, field="cluster")
        insert_row(
            db,
            TABLE,
            {
                "account": account,
                "id": model_id,
                "name": name,
                "state": "UPLOADING",
                "create_time": now,
                "update_time": now,
                "next_at": None,
                "data": data,
                "internal": {},
                "builtin": 0,
                "base_model": (spec.get("peftDetails") or {}).get("baseModel"),
            },
        )
        return data


def live(db: sqlite3.Connection, account: str, model_id: str) -> dict[str, Any]:
    return require_row(db, TABLE, name_of(account, model_id), "model")


def get(ctx: Ctx, account: str, model_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        data = dict(live(db, account, model_id)["data"])
        refs = refs_for(db, account, data["name"])
        if refs:
            data["deployedModelRefs"] = refs
        return data


def list_(ctx: Ctx, account: str, params: dict[str, Any]) -> tuple[list[str], str, int]:
    q = ListQuery(TABLE, ("account = ?",), (account,), COLUMNS, "name", **params)
    with ctx.tx() as (db, _):
        return run_list(db, q)


def update(ctx: Ctx, account: str, model_id: str, body: dict[str, Any], mask: str) -> dict[str, Any]:
    patch = _spec(body)
    with ctx.tx() as (db, now):
        row = live(db, account, model_id)
        if row["builtin"]:
            raise RpcError(
                PERMISSION_DENIED, f"model {row['name']!r} is a built-in catalog model and read-only"
            )
        current = {k: val for k, val in row["data"].items() if k in SETTABLE}
        if mask:
            merged = dict(current)
            for path in (v.camel(p.strip()) for p in mask.split(",") if p.strip()):
                if path not in SETTABLE:
                    raise invalid(f"updateMask: unknown or read-only field {path!r}", field="updateMask")
                if path in patch:
                    merged[path] = patch[path]
                else:
                    merged.pop(path, None)
        else:
            merged = {**current, **patch}
        if merged.get("kind", "HF_PEFT_ADDON") != current.get("kind", "HF_PEFT_ADDON"):
            raise invalid("kind cannot be changed after create", field="kind")
        if (merged.get("peftDetails") or {}).get("baseModel") != (current.get("peftDetails") or {}).get(
            "baseModel"
        ):
            raise invalid(
                "peftDetails.baseModel cannot be changed after create", field="peftDetails.baseModel"
            )
        spec = _validate(db, merged)
        if spec == current:
            return row["data"]
        outputs = {k: val for k, val in row["data"].items() if k not in SETTABLE}
        data = {**outputs, **spec, "updateTime": rfc3339(now)}
        update_row(db, TABLE, row["name"], {"data": data, "update_time": now})
        return data


def delete(ctx: Ctx, account: str, model_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        row = live(db, account, model_id)
        if row["builtin"]:
            raise RpcError(
                PERMISSION_DENIED, f"model {row['name']!r} is a built-in catalog model and cannot be deleted"
            )
        loaded = db.execute(
            "SELECT COUNT(*) FROM deployed_models WHERE model = ?", (row["name"],)
        ).fetchone()[0]
        bases = db.execute(
            "SELECT COUNT(*) FROM deployments WHERE json_extract(data, '$.baseModel') = ? AND "
            "state != 'DELETED'",
            (row["name"],),
        ).fetchone()[0]
        if loaded or bases:
            raise precondition(
                f"model {row['name']!r} is in use ({loaded} deployed model(s), {bases} deployment(s))",
                reason="MODEL_IN_USE",
            )
        for (filename,) in db.execute("SELECT filename FROM model_files WHERE model = ?", (row["name"],)).fetchall():
            ctx.store.blob(row["name"], filename).unlink(missing_ok=True)
        db.execute("DELETE FROM model_files WHERE model = ?", (row["name"],))
        delete_row(db, TABLE, row["name"])
    return {}


def prepare(ctx: Ctx, account: str, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    precision = v.check_enum(body.get("precision", "PRECISION_UNSPECIFIED"), v.PRECISIONS, field="precision")
    with ctx.tx() as (db, now):
        row = live(db, account, model_id)
        if row["data"].get("state") != "READY":
            raise precondition(f"model {row['name']!r} is not READY", reason="MODEL_NOT_READY")
        if precision != "PRECISION_UNSPECIFIED" and not row["builtin"]:
            data = row["data"]
            if precision not in data.setdefault("supportedPrecisions", []):
                data["supportedPrecisions"].append(precision)
                data["updateTime"] = rfc3339(now)
                update_row(db, TABLE, row["name"], {"data": data, "update_time": now})
    return {}
