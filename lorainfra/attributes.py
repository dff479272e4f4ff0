"""Attribute catalog: each managed attribute of each resource kind, its wire field, and whether it forces replacement.

Attributes are flat, snake_case, dotted for nested wire objects (``autoscaling_policy.scale_up_window``).
The config produces them, the provider converts them to and from camelCase wire objects, and the diff
compares them. Nothing else about a resource is compared.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttributeSpec:
    """One managed attribute: its flat name, its wire path, and how a change to it is applied."""

    name: str
    wire: tuple[str, ...]
    forces_replacement: bool = False
    # value the server assumes when the field is absent; None means "server computes it" (an unset
    # desired value never diffs against a computed one)
    default: object = None
    # compared by prefix (the server stores a resolved version name under the requested one)
    prefix_match: bool = False


DEPLOYMENT_ATTRIBUTES: tuple[AttributeSpec, ...] = (
    AttributeSpec("base_model", ("baseModel",), forces_replacement=True),
    AttributeSpec("display_name", ("displayName",), default=""),
    AttributeSpec("description", ("description",), default=""),
    AttributeSpec("min_replica_count", ("minReplicaCount",), default=0),
    AttributeSpec("max_replica_count", ("maxReplicaCount",)),
    AttributeSpec("accelerator_type", ("acceleratorType",)),
    AttributeSpec("accelerator_count", ("acceleratorCount",)),
    AttributeSpec("deployment_shape", ("deploymentShape",), prefix_match=True),
    AttributeSpec("precision", ("precision",)),
    AttributeSpec("enable_addons", ("enableAddons",), forces_replacement=True, default=False),
    AttributeSpec("max_context_length", ("maxContextLength",)),
    AttributeSpec("autoscaling_policy.scale_up_window", ("autoscalingPolicy", "scaleUpWindow")),
    AttributeSpec("autoscaling_policy.scale_down_window", ("autoscalingPolicy", "scaleDownWindow")),
    AttributeSpec("autoscaling_policy.scale_to_zero_window", ("autoscalingPolicy", "scaleToZeroWindow")),
    AttributeSpec("autoscaling_policy.load_targets", ("autoscalingPolicy", "loadTargets")),
    AttributeSpec("placement.region", ("placement", "region")),
    AttributeSpec("placement.multi_region", ("placement", "multiRegion")),
    AttributeSpec("placement.regions", ("placement", "regions")),
)

LORA_ATTRIBUTES: tuple[AttributeSpec, ...] = (
    AttributeSpec("model", ("model",), forces_replacement=True),
    AttributeSpec("deployment", ("deployment",), forces_replacement=True, default=""),
    AttributeSpec("serverless", ("serverless",), forces_replacement=True, default=False),
    AttributeSpec("display_name", ("displayName",), default=""),
    AttributeSpec("description", ("description",), default=""),
)

ATTRIBUTES: dict[str, tuple[AttributeSpec, ...]] = {
    "deployment": DEPLOYMENT_ATTRIBUTES,
    "lora": LORA_ATTRIBUTES,
}


def spec_for(kind: str, name: str) -> AttributeSpec | None:
    """The spec of attribute ``name`` of resource kind ``kind``, or None if it is not managed."""
    for spec in ATTRIBUTES[kind]:
        if spec.name == name:
            return spec
    return None
