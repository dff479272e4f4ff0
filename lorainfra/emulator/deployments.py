"""Deployments: create/get/list/update/scale/delete/undelete and the time-driven state machine."""

from __future__ import annotations

import sqlite3
from typing import Any

from lorainfra.emulator import deployed_models, shapes
from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.deployment_spec import (
    apply_defaults,
    apply_mask,
    camelize_body,
    normalize,
    region_for,
    spec_of,
)
from lorainfra.emulator.errors import already_exists, invalid, not_found, precondition
from lorainfra.emulator.paging import ListQuery, run_list
from lorainfra.emulator.store import (
    delete_row,
    due_rows,
    get_row,
    insert_row,
    require_row,
    update_row,
)

TABLE = "deployments"
COLUMNS = {"name": "name", "createTime": "create_time", "updateTime": "update_time", "state": "state"}
ADDON_KINDS = frozenset({"HF_TEFT_ADDON", "FLUMINA_ADDON", "DRAFT_ADDON"})
OK = {"code": "OK", "message": ""}


def name_of(account: str, deployment_id: str) -> str:
    return f"accounts/{account}/deployments/{deployment_id}"


def _render(spec: dict[str, Any], row: dict[str, Any], state: str, status: dict[str, str]) -> dict[str, Any]:
    internal = row["internal"]
    desired = internal.get("scale")
    if desired is None:
        desired = min(max(spec["minReplicaCount"], 1), spec["maxReplicaCount"])
    if state in ("DELETING", "DELETED", "FAILED"):
        desired = 0
    current = desired if state in ("READY", "UPDATING") else 0
    data: dict[str, Any] = {
        **spec,
        "name": row["name"],
        "createTime": rfc3339(row["create_time"]),
        "updateTime": rfc3339(row["update_time"]),
        "state": state,
        "status": status,
        "region": region_for(spec),
        "desiredReplicaCount": desired,
        "replicaCount": current,
        "replicaStats": {"readyReplicaCount": current}
        if current or state != "CREATING"
        else {"initializingReplicaCount": desired},
    }
    if internal.get("deleteTime") is not None:
        data["deleteTime"] = rfc3339(internal["deleteTime"])
        data["purgeTime"] = rfc3339(internal["purgeTime"])
    return data


def _save(
    db: sqlite3.Connection,
    row: dict[str, Any],
    state: str,
    next_at: float | None,
    status: dict[str, str] = OK,
) -> dict[str, Any]:
    data = _render(spec_of(row["data"]), row, state, status)
    update_row(
        db,
        TABLE,
        row["name"],
        {
            "state": state,
            "next_at": next_at,
            "update_time": row["update_time"],
            "data": data,
            "internal": row["internal"],
        },
    )
    row.update(state=state, next_at=next_at, data=data)
    return data


def _ready_next(ctx: Ctx, spec: dict[str, Any], t: float) -> float | None:
    return t + ctx.options.idle_delete_after if spec.get("minReplicaCount", 0) == 0 else None


def settle(ctx: Ctx, db: sqlite3.Connection, now: float) -> None:
    """Fire every due transition (in time order) up to `now`; chains of transitions are followed."""
    for row, t in due_rows(db, TABLE, now):
        _fire(ctx, db, row, t)


def _soft_delete(ctx: Ctx, db: sqlite3.Connection, row: dict[str, Any], t: float, message: str) -> None:
    row["internal"].update(deleteTime=t, purgeTime=t + ctx.options.purge_after)
    row["internal"].pop("scale", None)
    row["update_time"] = t
    db.execute("DELETE FROM deployed_models WHERE deployment = ?", (row["name"],))
    _save(db, row, "DELETED", t + ctx.options.purge_after, {"code": "OK", "message": message})


def _fire(ctx: Ctx, db: sqlite3.Connection, row: dict[str, Any], t: float) -> None:
    state = row["state"]
    if state in ("CREATING", "UPDATING"):
        row["update_time"] = t
        if row["internal"].get("fail"):
            _save(
                db,
                row,
                "FAILED",
                None,
                {
                    "code": "INTERNAL",
                    "message": "deployment failed to become ready (emulator fail_pattern matched)",
                },
            )
        else:
            _save(db, row, "READY", _ready_next(ctx, row["data"], t))
    elif state == "READY":  # idle drift: minReplicaCount == 0 and no update for idle_delete_after
        _soft_delete(ctx, db, row, t, "automatically deleted after being idle with minReplicaCount=0")
    elif state == "DELETING":
        if row["internal"].get("hard"):
            db.execute("DELETE FROM deployed_models WHERE deployment = ?", (row["name"],))
            delete_row(db, TABLE, row["name"])
        else:
            _soft_delete(ctx, db, row, t, "deleted")
    elif state == "DELETED":
        delete_row(db, TABLE, row["name"])
    else:
        update_row(db, TABLE, row["name"], {"next_at": None})


def _check_refs(
    ctx: Ctx,
    db: sqlite3.Connection,
    account: str,
    spec: dict[str, Any],
    *,
    skip_shape: bool,
    accept_shapeless: bool,
) -> None:
    base_name = spec["baseModel"]
    model = get_row(db, "models", base_name)
    if model is None:
        raise not_found("model", base_name)
    mdata = model["data"]
    if mdata.get("state") != "READY":
        raise precondition(
            f"model {base_name!r} is not READY (state {mdata.get('state')}); validate its upload first",
            reason="MODEL_NOT_READY",
        )
    kind = mdata.get("kind", "HF_PEFT_ADDON")
    if kind in ADDON_KINDS:
        raise invalid(
            f"model {base_name!r} of kind {kind} cannot be deployed as a base model", field="baseModel"
        )
    live_merge = v.is_peft(mdata)
    resolved = shapes.resolve_base(db, base_name)
    if live_merge and spec.get("enableAddons"):
        raise invalid(
            "a live-merge deployment (baseModel is a LoRA) holds exactly one LoRA; enableAddons must be "
            "false",
            field="enableAddons",
        )
    if not live_merge and spec.get("enableAddons") and not mdata.get("supportsLora"):
        raise invalid(f"base model {base_name!r} does not support LoRA addons", field="enableAddons")
    shape = spec.get("deploymentShape")
    accel = spec.get("acceleratorType") not in (None, "ACCELERATOR_TYPE_UNSPECIFIED")
    if shape:
        if accept_shapeless:
            raise invalid(
                "acceptShapelessRisk cannot be combined with deploymentShape", field="deploymentShape"
            )
        for key, unset in (
            ("acceleratorType", "ACCELERATOR_TYPE_UNSPECIFIED"),
            ("acceleratorCount", 0),
            ("precision", "PRECISION_UNSPECIFIED"),
        ):
            if spec.get(key) not in (None, unset):
                raise invalid(
                    f"{key} must not be set together with deploymentShape (the shape sets it)", field=key
                )
        version = shapes.resolve(db, account, shape, resolved, bool(spec.get("enableAddons")), skip_shape)
        spec["deploymentShape"] = version["name"]
    else:
        if not accel:
            raise invalid(
                "acceleratorType is required when no deploymentShape is given "
                "(ACCELERATOR_TYPE_UNSPECIFIED is rejected)",
                field="acceleratorType",
            )
        if not spec.get("acceleratorCount"):
            base_row = get_row(db, "models", resolved)
            world = ((base_row or {"data": {}})["data"].get("baseModelDetails") or {}).get("worldSize") or 1
            spec["acceleratorCount"] = int(world)


def _flag(query: dict[str, str], key: str) -> bool:
    raw = query.get(key, query.get(_snake(key), "false")).lower()
    if raw not in ("true", "false", "1", "0", ""):
        raise invalid(f"{key}: invalid boolean {raw!r}", field=key)
    return raw in ("true", "1")


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def create(ctx: Ctx, account: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    deployment_id = query.get("deploymentId", query.get("deployment_id")) or None
    if deployment_id is not None:
        v.check_id(deployment_id, what="deployment", field="deploymentId")
    spec = normalize(camelize_body(body))
    if not spec.get("baseModel"):
        raise invalid("baseModel is required", field="baseModel")
    spec = apply_defaults(spec)
    with ctx.tx() as (db, now):
        _check_refs(
            ctx,
            db,
            account,
            spec,
            skip_shape=_flag(query, "skipShapeValidation"),
            accept_shapeless=_flag(query, "acceptShapelessRisk"),
        )
        while deployment_id is None:
            candidate = ctx.random_id()
            if get_row(db, TABLE, name_of(account, candidate)) is None:
                deployment_id = candidate
        name = name_of(account, deployment_id)
        existing = get_row(db, TABLE, name)
        if existing is not None:
            raise already_exists(
                "deployment",
                name
                + (
                    " (soft-deleted; undelete it or wait for purge)" if existing["state"] == "DELETED" else ""
                ),
            )
        row = {
            "account": account,
            "id": deployment_id,
            "name": name,
            "state": "CREATING",
            "create_time": now,
            "update_time": now,
            "internal": {"fail": ctx.fails(deployment_id)},
        }
        data = _render(spec, row, "CREATING", OK)
        if _flag(query, "validateOnly"):
            return data
        insert_row(db, TABLE, {**row, "next_at": now + ctx.options.ready_after, "data": data})
        if ctx.options.auto_deploy_base and not _flag(query, "disableAutoDeploy"):
            deployed_models.deploy_base(ctx, db, account, name, spec["baseModel"], now)
        return data


def _live(db: sqlite3.Connection, account: str, deployment_id: str) -> dict[str, Any]:
    return require_row(db, TABLE, name_of(account, deployment_id), "deployment")


def get(ctx: Ctx, account: str, deployment_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        return _live(db, account, deployment_id)["data"]


def list_(ctx: Ctx, account: str, params: dict[str, Any], show_deleted: bool) -> tuple[list[str], str, int]:
    where = ["account = ?"] + ([] if show_deleted else ["state != 'DELETED'"])
    q = ListQuery(
        TABLE, tuple(where), (account,), COLUMNS, "create_time", extra_fingerprint=(show_deleted,), **params
    )
    with ctx.tx() as (db, _):
        return run_list(db, q)


def update(
    ctx: Ctx, account: str, deployment_id: str, body: dict[str, Any], query: dict[str, str]
) -> dict[str, Any]:
    body = camelize_body(body)
    mask = query.get("updateMask", query.get("update_mask", ""))
    with ctx.tx() as (db, now):
        row = _live(db, account, deployment_id)
        if row["state"] in ("DELETING", "DELETED"):
            raise precondition(f"deployment {row['name']!r} is {row['state']}; undelete it first")
        current = spec_of(row["data"])
        merged = apply_mask(current, body, mask) if mask else {k: val for k, val in body.items()}
        if merged.get("baseModel") in (None, ""):
            merged["baseModel"] = current["baseModel"]
        spec = normalize(merged)
        if spec["baseModel"] != current["baseModel"]:
            raise invalid(
                f"baseModel is immutable (current {current['baseModel']!r}); create a new deployment",
                field="baseModel",
                reason="IMMUTABLE_FIELD",
            )
        accel = spec.get("acceleratorType")
        if accel not in (None, current.get("acceleratorType", accel)):
            raise invalid(
                f"acceleratorType cannot be changed on an existing deployment (current "
                f"{current['acceleratorType']!r}); create a new deployment",
                field="acceleratorType",
                reason="IMMUTABLE_FIELD",
            )
        spec = apply_defaults(spec)
        _check_refs(
            ctx, db, account, spec, skip_shape=_flag(query, "skipShapeValidation"), accept_shapeless=False
        )
        if spec == current:
            return row["data"]
        if current.get("enableAddons") and not spec.get("enableAddons"):
            _unload_all(db, row["name"], now, now + ctx.options.delete_after, keep=current["baseModel"])
        if (spec["minReplicaCount"], spec["maxReplicaCount"]) != (
            current["minReplicaCount"],
            current["maxReplicaCount"],
        ):
            row["internal"].pop("scale", None)
        row["data"] = spec
        row["update_time"] = now
        if row["state"] == "CREATING":
            return _save(db, row, "CREATING", row["next_at"])
        row["internal"]["fail"] = ctx.fails(deployment_id)
        return _save(db, row, "UPDATING", now + ctx.options.ready_after)


def scale(ctx: Ctx, account: str, deployment_id: str, body: dict[str, Any]) -> dict[str, Any]:
    count = v.check_int(
        body.get("replicaCount", body.get("replica_count", 0)), field="replicaCount", minimum=0
    )
    with ctx.tx() as (db, now):
        row = _live(db, account, deployment_id)
        if row["state"] not in ("READY", "UPDATING", "CREATING"):
            raise precondition(f"deployment {row['name']!r} is {row['state']} and cannot be scaled")
        spec = spec_of(row["data"])
        limit = max(spec["maxReplicaCount"], spec.get("maxWithRevocableReplicaCount") or 0)
        if count > limit:
            raise invalid(f"replicaCount {count} exceeds maxReplicaCount {limit}", field="replicaCount")
        row["internal"]["scale"] = count
        row["update_time"] = now
        next_at = _ready_next(ctx, spec, now) if row["state"] == "READY" else row["next_at"]
        _save(db, row, row["state"], next_at)
    return {}


def delete(ctx: Ctx, account: str, deployment_id: str, query: dict[str, str]) -> dict[str, Any]:
    hard, ignore = _flag(query, "hard"), _flag(query, "ignoreChecks")
    with ctx.tx() as (db, now):
        row = _live(db, account, deployment_id)
        if row["state"] in ("DELETED", "DELETING") and not hard:
            return {}
        loaded = db.execute(  # the base model's own copy (auto-deploy) does not make it "in use"
            "SELECT COUNT(*) FROM deployed_models WHERE deployment = ? AND state != 'UNDEPLOYING' AND model != ?",
            (row["name"], spec_of(row["data"])["baseModel"]),
        ).fetchone()[0]
        if loaded and not ignore:
            raise precondition(
                f"deployment {row['name']!r} has {loaded} deployed model(s) loaded; unload them or "
                "pass ignoreChecks=true",
                reason="DEPLOYMENT_IN_USE",
            )
        if loaded:
            _unload_all(db, row["name"], now, now + ctx.options.delete_after)
        row["internal"]["hard"] = hard
        row["update_time"] = now
        _save(db, row, "DELETING", now + ctx.options.delete_after)
    return {}


def _unload_all(db: sqlite3.Connection, deployment: str, now: float, end: float, keep: str = "") -> None:
    """Move every deployed model on ``deployment`` but ``keep`` (its base copy) to UNDEPLOYING (gone at ``end``)."""
    db.execute(
        "UPDATE deployed_models SET state = 'UNDEPLOYING', next_at = ?, update_time = ?, data = "
        "json_set(data, '$.state', 'UNDEPLOYING', '$.updateTime', ?) WHERE deployment = ? AND "
        "state != 'UNDEPLOYING' AND model != ?",
        (end, now, rfc3339(now), deployment, keep),
    )


def undelete(ctx: Ctx, account: str, deployment_id: str) -> dict[str, Any]:
    with ctx.tx() as (db, now):
        row = _live(db, account, deployment_id)
        if row["state"] not in ("DELETED", "FAILED"):
            raise precondition(
                f"deployment {row['name']!r} is {row['state']}; only DELETED or FAILED deployments "
                "can be undeleted"
            )
        for key in ("deleteTime", "purgeTime", "hard", "scale"):
            row["internal"].pop(key, None)
        row["internal"]["fail"] = ctx.fails(deployment_id)
        row["update_time"] = now
        return _save(db, row, "CREATING", now + ctx.options.ready_after)
