"""Deployed models (LoRA load/unload on deployments or serverless) and their state machine."""

from __future__ import annotations

import sqlite3
from typing import Any

from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import (
    ABORTED,
    RpcError,
    already_exists,
    invalid,
    not_found,
    precondition,
    quota_exceeded,
)
from lorainfra.emulator.paging import ListQuery, run_list
from lorainfra.emulator.store import (
    decode,
    delete_row,
    due_rows,
    get_row,
    insert_row,
    require_row,
    update_row,
)

TABLE = "deployed_models"
COLUMNS = {
    "name": "name",
    "createTime": "create_time",
    "updateTime": "update_time",
    "state": "state",
    "model": "model",
    "deployment": "deployment",
    "serverless": "serverless",
}
SETTABLE = ("model", "deployment", "serverless", "displayName", "description", "default", "public")
IMMUTABLE = ("model", "deployment", "serverless")
MAX_PER_DEPLOYMENT = 100
OK = {"code": "OK", "message": ""}


def name_of(account: str, dm_id: str) -> str:
    return f"accounts/{account}/deployedModels/{dm_id}"


def _save(
    db: sqlite3.Connection,
    row: dict[str, Any],
    state: str,
    next_at: float | None,
    t: float,
    status: dict[str, str] = OK,
) -> dict[str, Any]:
    data = {**row["data"], "state": state, "status": status, "updateTime": rfc3339(t)}
    update_row(
        db,
        TABLE,
        row["name"],
        {"state": state, "next_at": next_at, "update_time": t, "data": data, "internal": row["internal"]},
    )
    row.update(state=state, next_at=next_at, data=data, update_time=t)
    return data


def settle(ctx: Ctx, db: sqlite3.Connection, now: float) -> None:
    """Fire every due transition (in time order) up to `now`."""
    for row, t in due_rows(db, TABLE, now):
        if row["state"] in ("DEPLOYING", "UPDATING"):
            if row["internal"].get("fail"):
                failure = {
                    "code": "INTERNAL",
                    "message": "failed to load model (emulator fail_pattern matched)",
                }
                _save(db, row, "STATE_UNSPECIFIED", None, t, failure)
            else:
                idle = ctx.options.serverless_idle_unload_after if row["serverless"] else None
                _save(db, row, "DEPLOYED", None if idle is None else t + idle, t)
        else:  # UNDEPLOYING finished, or a serverless copy idle for too long
            delete_row(db, TABLE, row["name"])


def _active(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [decode(r) for r in db.execute(f"SELECT * FROM {TABLE} WHERE {where}", args).fetchall()]


def _body(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in body.items():
        key = v.camel(raw_key)
        if key not in SETTABLE or value is None:
            continue
        if key in ("serverless", "default", "public"):
            out[key] = v.check_bool(value, field=key)
        elif key == "displayName":
            out[key] = v.check_str(value, field=key, max_len=64)
        elif key == "model":
            out[key] = v.check_model_name(value, field=key)
        elif key == "deployment":
            out[key] = v.check_deployment_name(value, field=key) if value else ""
        else:
            out[key] = v.check_str(value, field=key)
    return out


def load(ctx: Ctx, account: str, body: dict[str, Any], replace_merged: bool) -> dict[str, Any]:
    spec = _body(body)
    if not spec.get("model"):
        raise invalid("model is required", field="model")
    serverless, deployment = spec.get("serverless", False), spec.get("deployment") or ""
    if serverless == bool(deployment):
        raise invalid("set exactly one of deployment or serverless=true", field="deployment")
    with ctx.tx() as (db, now):
        model = get_row(db, "models", spec["model"])
        if model is None:
            raise not_found("model", spec["model"])
        mdata = model["data"]
        if mdata.get("state") != "READY":
            raise precondition(
                f"model {spec['model']!r} is not READY (state {mdata.get('state')})", reason="MODEL_NOT_READY"
            )
        if mdata.get("kind", "HF_PEFT_ADDON") != "HF_PEFT_ADDON" or not mdata.get("peftDetails"):
            raise invalid(f"model {spec['model']!r} is not a LoRA (HF_PEFT_ADDON) model", field="model")
        lora_base = mdata["peftDetails"]["baseModel"]
        replaced: list[dict[str, Any]] = []
        if serverless:
            if lora_base not in ctx.options.serverless_lora_bases:
                raise invalid(
                    f"LoRAs on base model {lora_base!r} cannot be loaded onto serverless (supported bases: "
                    f"{', '.join(ctx.options.serverless_lora_bases) or 'none'}); use a dedicated deployment",
                    field="serverless",
                )
            same = _active(db, "account = ? AND serverless = 1 AND model = ?", (account, spec["model"]))
            count, limit, where = 0, 1, "serverless"
        else:
            if not deployment.startswith(f"accounts/{account}/deployments/"):
                raise not_found("deployment", deployment)
            dep = get_row(db, "deployments", deployment)
            if dep is None:
                raise not_found("deployment", deployment)
            ddata = dep["data"]
            if dep["state"] != "READY":
                raise precondition(
                    f"deployment {deployment!r} is {dep['state']}, not READY", reason="DEPLOYMENT_NOT_READY"
                )
            if ddata.get("enableHotReloadLatestAddon"):
                if not replace_merged:
                    raise precondition(
                        f"deployment {deployment!r} uses hot reload; pass replaceMergedAddon=true",
                        reason="REPLACE_MERGED_ADDON_REQUIRED",
                    )
                replaced = _active(
                    db,
                    "deployment = ? AND state != 'UNDEPLOYING' AND model != ?",
                    (deployment, ddata["baseModel"]),
                )
            elif not ddata.get("enableAddons"):
                raise precondition(
                    f"deployment {deployment!r} does not have enableAddons=true", reason="ADDONS_DISABLED"
                )
            if lora_base != ddata.get("baseModel"):
                raise invalid(
                    f"LoRA base model {lora_base!r} does not match deployment base model "
                    f"{ddata.get('baseModel')!r}",
                    field="model",
                    reason="BASE_MODEL_MISMATCH",
                )
            same = _active(db, "deployment = ? AND model = ?", (deployment, spec["model"]))
            count = db.execute(
                f"SELECT COUNT(*) FROM {TABLE} WHERE deployment = ? AND state != 'UNDEPLOYING' AND model != ?",
                (deployment, ddata["baseModel"]),
            ).fetchone()[0] - len(replaced)
            limit, where = MAX_PER_DEPLOYMENT, deployment
        for other in same:
            if other["state"] == "UNDEPLOYING":
                raise RpcError(
                    ABORTED,
                    f"model {spec['model']!r} is still being unloaded from {where}; retry once "
                    "the unload has finished",
                    reason="UNLOAD_IN_PROGRESS",
                )
            raise already_exists("deployed model", f"{other['name']} ({spec['model']} on {where})")
        if serverless:
            _check_serverless_quota(ctx, db, account, lora_base)
        elif count >= limit:
            raise quota_exceeded(f"at most {limit} LoRAs may be loaded on {where}", "LORA_LIMIT")
        for old in replaced:
            _save(db, old, "UNDEPLOYING", now + ctx.options.delete_after, now)
        model_id = spec["model"].rsplit("/", 1)[1]
        dm_id = ctx.random_id(model_id, 6)
        while get_row(db, TABLE, name_of(account, dm_id)) is not None:
            dm_id = ctx.random_id(model_id, 6)
        has_default = _default_holder(db, account, spec["model"]) is not None
        default = spec.get("default", not has_default)
        if default and has_default:
            _clear_default(db, account, spec["model"])
        name = name_of(account, dm_id)
        data = {
            **spec,
            "name": name,
            "default": default,
            "serverless": serverless,
            "createTime": rfc3339(now),
            "updateTime": rfc3339(now),
            "state": "DEPLOYING",
            "status": OK,
        }
        if deployment:
            data["deployment"] = deployment
        insert_row(
            db,
            TABLE,
            {
                "account": account,
                "id": dm_id,
                "name": name,
                "state": "DEPLOYING",
                "create_time": now,
                "update_time": now,
                "next_at": now + ctx.options.deployed_after,
                "data": data,
                "internal": {"fail": ctx.fails(spec["model"])},
                "model": spec["model"],
                "deployment": deployment or None,
                "serverless": serverless,
            },
        )
        return data


def deploy_base(
    ctx: Ctx, db: sqlite3.Connection, account: str, deployment: str, base: str, now: float
) -> None:
    """The base model's own row on a new deployment (what create does unless ``disableAutoDeploy``).

    Not a LoRA: it is not counted as loaded, not unloaded with ``enableAddons=false`` and goes with the
    deployment. A live-merge deployment (a PEFT model as ``baseModel``) gets none.
    """
    model = get_row(db, "models", base)
    if model is None or v.is_peft(model["data"]):
        return
    dm_id = ctx.random_id(base.rsplit("/", 1)[1], 6)
    name = name_of(account, dm_id)
    default = _default_holder(db, account, base) is None
    data = {
        "name": name,
        "model": base,
        "deployment": deployment,
        "serverless": False,
        "default": default,
        "createTime": rfc3339(now),
        "updateTime": rfc3339(now),
        "state": "DEPLOYING",
        "status": OK,
    }
    row = {
        "account": account,
        "id": dm_id,
        "name": name,
        "state": "DEPLOYING",
        "create_time": now,
        "update_time": now,
        "next_at": now + ctx.options.ready_after,
        "data": data,
        "internal": {"fail": False},
        "model": base,
        "deployment": deployment,
        "serverless": False,
    }
    insert_row(db, TABLE, row)


def _check_serverless_quota(ctx: Ctx, db: sqlite3.Connection, account: str, lora_base: str) -> None:
    """The account-wide serverless limit, then the per-base-model one (copies being unloaded do not count)."""
    rows = db.execute(
        f"SELECT json_extract(m.data, '$.peftDetails.baseModel') AS base FROM {TABLE} d "
        "LEFT JOIN models m ON m.name = d.model WHERE d.account = ? AND d.serverless = 1 "
        "AND d.state != 'UNDEPLOYING'",
        (account,),
    ).fetchall()
    total, limit = len(rows), ctx.options.serverless_limit
    if total >= limit:
        raise quota_exceeded(
            f"at most {limit} serverless LoRAs may be loaded in account {account!r}", "SERVERLESS_LORA_LIMIT"
        )
    on_base, per_base = sum(1 for r in rows if r["base"] == lora_base), ctx.options.serverless_per_base_limit
    if on_base >= per_base:
        raise quota_exceeded(
            f"at most {per_base} serverless LoRAs per base model may be loaded at a time ({on_base} on "
            f"{lora_base!r}); unload one to free a slot",
            "SERVERLESS_LORA_LIMIT",
        )


def _default_holder(db: sqlite3.Connection, account: str, model: str) -> str | None:
    row = db.execute(
        f"SELECT name FROM {TABLE} WHERE model = ? AND account = ? AND state != 'UNDEPLOYING' "
        "AND json_extract(data, '$.default') = 1 LIMIT 1",
        (model, account),
    ).fetchone()
    return None if row is None else str(row["name"])


def _clear_default(db: sqlite3.Connection, account: str, model: str) -> None:
    db.execute(
        f"UPDATE {TABLE} SET data = json_set(data, '$.default', json('false')) WHERE model = ? AND account = ? "
        "AND json_extract(data, '$.default') = 1",
        (model, account),
    )


def _live(db: sqlite3.Connection, account: str, dm_id: str) -> dict[str, Any]:
    return require_row(db, TABLE, name_of(account, dm_id), "deployed model")


def get(ctx: Ctx, account: str, dm_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        return _live(db, account, dm_id)["data"]


def list_(ctx: Ctx, account: str, params: dict[str, Any]) -> tuple[list[str], str, int]:
    q = ListQuery(TABLE, ("account = ?",), (account,), COLUMNS, "name", **params)
    with ctx.tx() as (db, _):
        return run_list(db, q)


def update(ctx: Ctx, account: str, dm_id: str, body: dict[str, Any], mask: str = "") -> dict[str, Any]:
    patch = _body(body)
    body_name = body.get("name")
    if body_name not in (None, "", name_of(account, dm_id)):
        raise invalid(f"name {body_name!r} does not match the resource being updated", field="name")
    with ctx.tx() as (db, now):
        row = _live(db, account, dm_id)
        if row["state"] == "UNDEPLOYING":
            raise precondition(f"deployed model {row['name']!r} is being unloaded")
        data = row["data"]
        for key in IMMUTABLE:
            if key in patch and patch[key] != data.get(key, False if key == "serverless" else ""):
                raise invalid(
                    f"{key} cannot be changed on a deployed model; unload and load instead", field=key
                )
        paths = [v.camel(p.strip()) for p in mask.split(",") if p.strip()]
        new = dict(data) if paths else {**data, **patch}
        for path in paths:
            if path not in SETTABLE:
                raise invalid(f"updateMask: unknown or read-only field {path!r}", field="updateMask")
            if path in patch:
                new[path] = patch[path]
            elif path not in IMMUTABLE:
                new.pop(path, None)
        if new == data:
            return data
        if new.get("default") and not data.get("default"):
            _clear_default(db, account, data["model"])
        row["data"] = new
        row["internal"]["fail"] = ctx.fails(data["model"])
        return _save(db, row, "UPDATING", now + ctx.options.deployed_after, now)


def unload(ctx: Ctx, account: str, dm_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, now):
        row = _live(db, account, dm_id)
        if row["state"] != "UNDEPLOYING":
            _save(db, row, "UNDEPLOYING", now + ctx.options.delete_after, now)
    return {}


def refs_for(db: sqlite3.Connection, account: str, model_name: str) -> list[dict[str, Any]]:
    """deployedModelRefs of a Model (filled by GET only)."""
    rows = _active(db, "account = ? AND model = ? ORDER BY name", (account, model_name))
    return [
        {k: r["data"][k] for k in ("name", "deployment", "state", "default", "public") if k in r["data"]}
        for r in rows
    ]
