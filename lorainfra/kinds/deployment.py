"""The ``deployment`` kind: a Fireworks deployment (accounts/{account}/deployments/{id}), ID chosen by us."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.decl import Decl
from lorainfra.config.durations import describe, parse_duration, schema_rejects
from lorainfra.config.model import Resource
from lorainfra.errors import Diagnostic
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds import accelerators
from lorainfra.kinds.base import DELETED, AttributeSpec, DeclContext, Kind, RemoteChecks, Request
from lorainfra.live import RemoteObject

HOUR = 3600.0
FIVE_MINUTES = 300.0

A = AttributeSpec
ATTRIBUTES: tuple[AttributeSpec, ...] = (
    A("base_model", ("baseModel",), ("base_model",), forces_replacement=True),
    # no default: the server may fill them in, so they are compared only when the config sets them
    A("display_name", ("displayName",), ("display_name",)),
    A("description", ("description",), ("description",)),
    A("min_replica_count", ("minReplicaCount",), ("replicas", "min"), type="int", default=0),
    # not resettable: "If not specified, the default is max(min_replica_count, 1). May be set to 0 to
    # downscale the deployment to 0" (DeploymentUpdateParams, fireworks-ai 1.2.30): on create an absent value
    # means max(min, 1), but a masked update without it may read as 0 (scale to zero). Removed from the
    # config, the live value stays (the plan says so) rather than risk that
    A("max_replica_count", ("maxReplicaCount",), ("replicas", "max"), type="int", resettable=False),
    # "accelerator type cannot be changed for existing deployments" (Build SDK fireworks/llm/llm.py)
    A("accelerator_type", ("acceleratorType",), ("accelerator", "type"), forces_replacement=True),
    A("accelerator_count", ("acceleratorCount",), ("accelerator", "count"), type="int"),
    A("deployment_shape", ("deploymentShape",), ("shape",), prefix_match=True),
    A("precision", ("precision",), ("precision",)),
    # updated in place through the update mask (Build SDK); turning it off unloads the LoRAs on it
    A("enable_addons", ("enableAddons",), ("addons",), default=False),
    A("max_context_length", ("maxContextLength",), ("max_context_length",), type="int"),
    A("autoscaling_policy.scale_up_window", ("autoscalingPolicy", "scaleUpWindow"),
      ("autoscaling", "scale_up_window"), type="duration"),
    A("autoscaling_policy.scale_down_window", ("autoscalingPolicy", "scaleDownWindow"),
      ("autoscaling", "scale_down_window"), type="duration"),
    A("autoscaling_policy.scale_to_zero_window", ("autoscalingPolicy", "scaleToZeroWindow"),
      ("autoscaling", "scale_to_zero_window"), type="duration"),
    A("autoscaling_policy.load_targets", ("autoscalingPolicy", "loadTargets"), ("autoscaling", "load_targets")),
    A("placement.region", ("placement", "region"), ("placement", "region")),
    A("placement.multi_region", ("placement", "multiRegion"), ("placement", "multi_region")),
    A("placement.regions", ("placement", "regions"), ("placement", "regions")),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _window(decl: Decl, key: str, low: float | None, high: float | None) -> list[Diagnostic]:
    if not decl.has("autoscaling", key):
        return []
    value = decl.get("autoscaling", key)
    span = decl.span("autoscaling", key)
    if schema_rejects(value):
        return []  # the schema reported the type, the syntax or the sign
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        return [Diagnostic(span, f"autoscaling.{key}: {exc}", "write a duration like 30s, 10m or 1h")]
    if high is not None and seconds > high:
        return [Diagnostic(span, f"autoscaling.{key} is {describe(seconds)}; Fireworks allows at most {describe(high)}",
                           f"set autoscaling.{key} to {describe(high)} or less")]
    if low is not None and seconds < low:
        return [Diagnostic(span, f"autoscaling.{key} is {describe(seconds)}; Fireworks requires at least {describe(low)}",
                           f"set autoscaling.{key} to {describe(low)} or more")]
    return []


@dataclass(frozen=True)
class DeploymentKind(Kind):
    """Deployments: created with our ID, PATCHed in place, hard-deleted; READY when serving."""

    def check(self, decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
        out: list[Diagnostic] = accelerators.accelerator_warnings(decl)
        low, high = decl.get("replicas", "min"), decl.get("replicas", "max")
        if _number(low) is not None and _number(high) is not None and float(high) < float(low):
            out.append(Diagnostic(decl.span("replicas", "max"), f"replicas.max ({high}) is less than replicas.min ({low})",
                                  "raise replicas.max or lower replicas.min so that min <= max"))
        out += _window(decl, "scale_up_window", None, HOUR)
        out += _window(decl, "scale_down_window", None, HOUR)
        out += _window(decl, "scale_to_zero_window", FIVE_MINUTES, None)
        targets = decl.get("autoscaling", "load_targets")
        if isinstance(targets, dict):
            for key, value in targets.items():
                number = _number(value)
                if number is not None and not math.isfinite(number):
                    out.append(Diagnostic(decl.span("autoscaling", "load_targets", key),
                                          f"autoscaling.load_targets.{key} must be a finite number, not {value}",
                                          "write a plain number such as 0.8"))
        placement = decl.get("placement")
        if isinstance(placement, dict):
            keys = [key for key in ("region", "multi_region", "regions") if key in placement]
            if not keys:
                out.append(Diagnostic(decl.span("placement"),
                                      "placement must set exactly one of region, multi_region, regions",
                                      "e.g. placement: {region: US_IOWA_1}; or remove placement for the GLOBAL default"))
            for extra in keys[1:]:
                out.append(Diagnostic(decl.sub_key_span("placement", extra),
                                      f"placement sets both {keys[0]} and {extra}; set exactly one of region, multi_region, regions",
                                      f"remove placement.{extra} or placement.{keys[0]}"))
        has_shape = decl.has("shape")
        has_type = decl.has("accelerator", "type")
        if has_shape and has_type:
            out.append(Diagnostic(decl.sub_key_span("shape"), "set either shape or accelerator.type, not both",
                                  "with a deployment shape Fireworks picks the hardware and rejects acceleratorType; "
                                  "remove accelerator.type (or remove shape)"))
        if has_shape:
            # the shape fixes the hardware and the precision; Fireworks' own client sends neither with a shape
            # (fireworks/training/sdk/deployment.py DeploymentConfig: shape path vs manual path)
            for path, what in ((("accelerator", "count"), "accelerator.count"), (("precision",), "precision")):
                if decl.has(*path):
                    out.append(Diagnostic(decl.sub_key_span(*path), f"set either shape or {what}, not both",
                                          f"a deployment shape fixes the accelerator count and the precision; remove "
                                          f"{what} (or remove shape and set accelerator.type)"))
        if not has_shape and not has_type:
            out.append(Diagnostic(decl.key_span, f"deployment {decl.name!r} needs shape or accelerator.type",
                                  "add 'shape: default' to let Fireworks pick a validated shape, or "
                                  "accelerator: {type: NVIDIA_H100_80GB, count: 1}"))
        return out

    async def precheck(
        self, resource: Resource, resources: Mapping[Address, Resource], remote: RemoteChecks
    ) -> list[Diagnostic]:
        await remote.create(self.name, resource.name, resource.attributes, validate_only=True)
        if resource.attributes.get("min_replica_count", 0) != 0:
            return []
        # "deployments with min replicas 0 are auto-deleted after 7 days without traffic" (docs: autoscaling)
        return [Diagnostic(resource.attribute_spans.get("min_replica_count", resource.span),
                           f"deployment.{resource.name} scales to zero (replicas.min: 0): Fireworks deletes a deployment "
                           "that has had no traffic for 7 days, and its ID stays reserved until purged",
                           "set replicas.min: 1 to keep it", severity="warning")]

    def remote_id(self, resource_name: str) -> str:
        return resource_name

    def update_note(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
        if before.get("enable_addons") is True and after.get("enable_addons") is False:
            return "addons turned off: Fireworks unloads every LoRA loaded on this deployment"
        return ""

    def conflict_reason(self, message: str) -> str:
        return f"{message} (the ID is taken, but no deployment with it could be read back; plan again)"

    # soft delete (fireworks/resources/deployments.py delete(hard), undelete(); docs: undelete-deployment): a
    # DELETED deployment keeps its ID until purged, so a refresh lists it (showDeleted) to plan what apply does
    def list_params(self) -> Mapping[str, Any]:
        return frozen_mapping({"showDeleted": True})

    def holds_id(self, obj: RemoteObject) -> bool:
        return obj.state == DELETED

    def undelete_request(self, name: str) -> Request | None:
        return Request("POST", f"{name}:undelete", body={})

    def create_request(
        self, resource_id: str, attributes: Mapping[str, Any], *, account: str, validate_only: bool = False
    ) -> Request:
        params: dict[str, Any] = {"deploymentId": resource_id}
        if validate_only:
            params["validateOnly"] = True
        return Request("POST", f"accounts/{account}/{self.collection}", frozen_mapping(params),
                       self.to_wire(attributes, account=account))

    def update_request(
        self, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...], *, account: str
    ) -> Request:
        request = super().update_request(name, attributes, changed, account=account)
        body = dict(request.body or {})
        if "base_model" in attributes:
            body["baseModel"] = attributes["base_model"]  # the API requires it in every PATCH body
        return Request(request.method, request.path, request.params, body)

    def delete_request(self, name: str, *, force: bool = False) -> Request:
        # ignoreChecks: delete even with LoRAs loaded (fireworks/resources/deployments.py delete())
        params: dict[str, Any] = {"hard": True, "ignoreChecks": True} if force else {"hard": True}
        return Request("DELETE", name, frozen_mapping(params))


DEPLOYMENT = DeploymentKind(
    name="deployment",
    section="deployments",
    collection="deployments",
    noun="deployment ID",
    attributes=ATTRIBUTES,
    ready_state="READY",
    gone_states=frozenset({"DELETED", "DELETING"}),
    ready_timeout=3600.0,
    settle_after_create=True,
)
