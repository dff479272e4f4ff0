"""Deployment request bodies: the settable field set, normalisation, defaults and field validation."""

from __future__ import annotations

from typing import Any

from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import format_duration, parse_duration, parse_rfc3339, rfc3339
from lorainfra.emulator.errors import invalid

HOUR = 3600.0
DEFAULT_WINDOWS = {"scaleUpWindow": 30.0, "scaleDownWindow": 600.0, "scaleToZeroWindow": 3600.0}

BOOL_FIELDS = (
    "enableAddons",
    "enableHotReloadLatestAddon",
    "enableHotLoad",
    "enableMtp",
    "enableSessionAffinity",
    "disableDeploymentSizeValidation",
)
INT_FIELDS = (
    "minReplicaCount",
    "maxReplicaCount",
    "maxWithRevocableReplicaCount",
    "acceleratorCount",
    "maxContextLength",
    "draftTokenCount",
    "ngramSpeculationLength",
)
STR_FIELDS = ("description", "hotLoadBucketUrl", "deploymentTemplate", "pricingPlanId", "deploymentShape")
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "acceleratorType": v.ACCELERATOR_TYPES,
    "precision": v.PRECISIONS,
    "hotLoadBucketType": v.BUCKET_TYPES,
    "directRouteType": v.DIRECT_ROUTE_TYPES,
}
OBJECT_FIELDS = ("autoscalingPolicy", "placement", "autoTune")
SETTABLE = frozenset(
    {
        "baseModel",
        "displayName",
        "draftModel",
        "directRouteApiKeys",
        "expireTime",
        *BOOL_FIELDS,
        *INT_FIELDS,
        *STR_FIELDS,
        *ENUM_FIELDS,
        *OBJECT_FIELDS,
    }
)
# Server-managed or helper-only fields: accepted in bodies and masks, never stored.
IGNORED = frozenset(
    {
        "name",
        "createTime",
        "updateTime",
        "deleteTime",
        "purgeTime",
        "state",
        "status",
        "replicaCount",
        "desiredReplicaCount",
        "replicaStats",
        "region",
        "cluster",
        "directRouteHandle",
        "numPeftDeviceCached",
        "activeModelVersion",
        "targetModelVersion",
        "hotLoadTrainerJob",
        "hotLoadTransitionType",
        "forTraining",
        "extraArgs",
        "extraValues",
        "annotations",
        "preemptible",
    }
)


def normalize(body: dict[str, Any]) -> dict[str, Any]:
    """Validate each settable field of a body and return the stored (normalised) spec; unknown keys drop."""
    spec: dict[str, Any] = {}
    for raw_key, value in body.items():
        key = v.camel(raw_key)
        if key not in SETTABLE or value is None:
            continue
        spec[key] = _field(key, value)
    return spec


def _field(key: str, value: Any) -> Any:
    if key in ("baseModel", "draftModel"):
        return v.check_model_name(value, field=key)
    if key == "displayName":
        return v.check_str(value, field=key, max_len=64)
    if key in BOOL_FIELDS:
        return v.check_bool(value, field=key)
    if key in INT_FIELDS:
        return v.check_int(value, field=key, minimum=0)
    if key in STR_FIELDS:
        return v.check_str(value, field=key)
    if key in ENUM_FIELDS:
        return v.check_enum(value, ENUM_FIELDS[key], field=key)
    if key == "directRouteApiKeys":
        return v.check_str_list(value, field=key)
    if key == "expireTime":
        return rfc3339(parse_rfc3339(v.check_str(value, field=key)))
    if key in OBJECT_FIELDS:
        obj = {v.camel(k): val for k, val in v.check_object(value, field=key).items()}
        if key == "autoscalingPolicy":
            return _autoscaling(obj)
        if key == "placement":
            return _placement(obj)
        return (
            {"longPrompt": v.check_bool(obj["longPrompt"], field="autoTune.longPrompt")}
            if "longPrompt" in obj
            else {}
        )
    raise AssertionError(key)


def _autoscaling(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in DEFAULT_WINDOWS.items():
        raw = obj.get(key)
        seconds = default if raw in (None, "") else parse_duration(raw, field=f"autoscalingPolicy.{key}")
        if seconds < 0:
            raise invalid(f"autoscalingPolicy.{key} must not be negative", field=f"autoscalingPolicy.{key}")
        if key in ("scaleUpWindow", "scaleDownWindow") and seconds > HOUR:
            raise invalid(
                f"autoscalingPolicy.{key} must be at most 1h (got {format_duration(seconds)})",
                field=f"autoscalingPolicy.{key}",
            )
        if key == "scaleToZeroWindow" and seconds < 300:
            raise invalid(
                f"autoscalingPolicy.scaleToZeroWindow must be at least 5m (got {format_duration(seconds)})",
                field="autoscalingPolicy.scaleToZeroWindow",
            )
        out[key] = format_duration(seconds)
    targets = obj.get("loadTargets")
    if targets not in (None, {}):
        targets = v.check_object(targets, field="autoscalingPolicy.loadTargets")
        clean: dict[str, float] = {}
        for name, val in targets.items():
            if isinstance(val, bool) or not isinstance(val, int | float) or val < 0:
                raise invalid(
                    f"autoscalingPolicy.loadTargets.{name} must be a non-negative number",
                    field="autoscalingPolicy.loadTargets",
                )
            if name == "default" and val > 1:
                raise invalid(
                    "autoscalingPolicy.loadTargets.default must lie in 0-1",
                    field="autoscalingPolicy.loadTargets",
                )
            clean[str(name)] = val
        out["loadTargets"] = clean
    return out


def _placement(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.get("region") not in (None, "", "REGION_UNSPECIFIED"):
        out["region"] = v.check_enum(obj["region"], v.REGIONS, field="placement.region")
    if obj.get("multiRegion") not in (None, "", "MULTI_REGION_UNSPECIFIED"):
        out["multiRegion"] = v.check_enum(obj["multiRegion"], v.MULTI_REGIONS, field="placement.multiRegion")
    if obj.get("regions"):
        regions = v.check_str_list(obj["regions"], field="placement.regions")
        out["regions"] = [v.check_enum(r, v.REGIONS, field="placement.regions") for r in regions]
    if len(out) > 1:
        raise invalid(
            f"placement: set exactly one of region, multiRegion or regions (got {', '.join(sorted(out))})",
            field="placement",
        )
    return out


def apply_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """Fill server defaults and check cross-field rules that need no other resource."""
    out = dict(spec)
    out.setdefault("minReplicaCount", 0)
    out.setdefault("maxReplicaCount", max(out["minReplicaCount"], 1))
    if out["minReplicaCount"] > out["maxReplicaCount"]:
        raise invalid(
            f"minReplicaCount ({out['minReplicaCount']}) must not exceed maxReplicaCount "
            f"({out['maxReplicaCount']})",
            field="minReplicaCount",
        )
    revocable = out.get("maxWithRevocableReplicaCount")
    if revocable and revocable < out["maxReplicaCount"]:
        raise invalid(
            "maxWithRevocableReplicaCount must be >= maxReplicaCount", field="maxWithRevocableReplicaCount"
        )
    out["autoscalingPolicy"] = _autoscaling(out.get("autoscalingPolicy") or {})
    if not out.get("placement"):
        out.pop("placement", None)
    return out


def region_for(spec: dict[str, Any]) -> str:
    placement = spec.get("placement") or {}
    if placement.get("region"):
        return str(placement["region"])
    if placement.get("regions"):
        return str(placement["regions"][0])
    return {"EUROPE": "EU_FRANKFURT_1", "APAC": "AP_TOKYO_1"}.get(
        placement.get("multiRegion", ""), "US_IOWA_1"
    )


def apply_mask(current: dict[str, Any], body: dict[str, Any], mask: str) -> dict[str, Any]:
    """Copy the masked paths (snake_case or camelCase, dotted) from body onto current; absent -> cleared."""
    out = {k: (dict(val) if isinstance(val, dict) else val) for k, val in current.items()}
    for raw in mask.split(","):
        path = v.camel(raw.strip())
        if not path:
            continue
        if path == "*":
            return dict(body)
        top = path.split(".")[0]
        if top in IGNORED:
            continue
        if top not in SETTABLE:
            raise invalid(f"updateMask: unknown field path {raw.strip()!r}", field="updateMask")
        parts = path.split(".")
        src: Any = body
        for p in parts:
            src = src.get(p) if isinstance(src, dict) else None
        dst = out
        for p in parts[:-1]:
            nxt = dst.get(p)
            dst[p] = dict(nxt) if isinstance(nxt, dict) else {}
            dst = dst[p]
        if src is None:
            dst.pop(parts[-1], None)
        else:
            dst[parts[-1]] = src
    return out


def camelize_body(body: dict[str, Any]) -> dict[str, Any]:
    """Accept proto field names (snake_case) as well as lowerCamelCase, top level and inside sub-objects."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        ckey = v.camel(key)
        if ckey in OBJECT_FIELDS and isinstance(value, dict):
            value = {v.camel(k): val for k, val in value.items()}
        out[ckey] = value
    return out


def spec_of(data: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in data.items() if k in SETTABLE}
