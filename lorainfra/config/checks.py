"""Checks: the domain rules of a config (IDs, bounds, exclusive keys, references, limits, cycles).

Every check tolerates values of the wrong type (the JSON Schema already reported those) and returns
diagnostics instead of raising, so one run reports every problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lorainfra.addresses import Address, valid_id
from lorainfra.config.durations import describe, parse_duration, schema_rejects
from lorainfra.config.hints import close_match, did_you_mean, id_hint, join_hint, short
from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Diagnostic, Span
from lorainfra.graph import build_graph, cycle_diagnostics, has_cycle

MAX_LORAS_PER_DEPLOYMENT = 100
MAX_SERVERLESS_LORAS = 100
HOUR = 3600.0
FIVE_MINUTES = 300.0

SECTIONS = {"deployment": "deployments", "lora": "loras"}

# lifecycle.ignore_changes: YAML paths (and group names) -> managed attribute names
_AUTOSCALING = ("scale_up_window", "scale_down_window", "scale_to_zero_window", "load_targets")
DEPLOYMENT_PATHS: dict[str, tuple[str, ...]] = {
    "base_model": ("base_model",),
    "display_name": ("display_name",),
    "description": ("description",),
    "replicas": ("min_replica_count", "max_replica_count"),
    "replicas.min": ("min_replica_count",),
    "replicas.max": ("max_replica_count",),
    "accelerator": ("accelerator_type", "accelerator_count"),
    "accelerator.type": ("accelerator_type",),
    "accelerator.count": ("accelerator_count",),
    "shape": ("deployment_shape",),
    "precision": ("precision",),
    "addons": ("enable_addons",),
    "max_context_length": ("max_context_length",),
    "autoscaling": tuple(f"autoscaling_policy.{name}" for name in _AUTOSCALING),
    **{f"autoscaling.{name}": (f"autoscaling_policy.{name}",) for name in _AUTOSCALING},
    "placement": ("placement.region", "placement.multi_region", "placement.regions"),
    "placement.region": ("placement.region",),
    "placement.multi_region": ("placement.multi_region",),
    "placement.regions": ("placement.regions",),
}
LORA_PATHS: dict[str, tuple[str, ...]] = {
    name: (name,) for name in ("model", "deployment", "serverless", "display_name", "description")
}


def ignore_paths(kind: str) -> dict[str, tuple[str, ...]]:
    """Every accepted lifecycle.ignore_changes entry of ``kind`` -> the attribute names it covers."""
    table = dict(DEPLOYMENT_PATHS if kind == "deployment" else LORA_PATHS)
    for names in list(table.values()):
        for name in names:
            table.setdefault(name, (name,))
    return table


@dataclass
class Decl:
    """One declared resource as read from YAML: its kind, name, raw body and the document holding it."""

    kind: str
    name: str
    body: Any
    doc: Document

    @property
    def address(self) -> Address:
        return Address(self.kind, self.name)

    @property
    def path(self) -> YamlPath:
        return (SECTIONS[self.kind], self.name)

    @property
    def key_span(self) -> Span:
        return self.doc.key_span(self.path)

    def span(self, *sub: str | int) -> Span:
        return self.doc.span((*self.path, *sub))

    def sub_key_span(self, *sub: str | int) -> Span:
        return self.doc.key_span((*self.path, *sub))

    def get(self, *sub: str) -> Any:
        node = self.body
        for part in sub:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def has(self, *sub: str) -> bool:
        node = self.body
        for part in sub:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True


def _error(span: Span, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(span, message, hint)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_name(decl: Decl) -> list[Diagnostic]:
    if valid_id(decl.name):
        return []
    what = "deployment ID" if decl.kind == "deployment" else "lora name"
    return [_error(decl.key_span, f"{short(decl.name, 100)} is not a valid {what}", id_hint(decl.name))]


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
        return [_error(span, f"autoscaling.{key}: {exc}", "write a duration like 30s, 10m or 1h")]
    if high is not None and seconds > high:
        return [_error(span, f"autoscaling.{key} is {describe(seconds)}; Fireworks allows at most {describe(high)}",
                       f"set autoscaling.{key} to {describe(high)} or less")]
    if low is not None and seconds < low:
        return [_error(span, f"autoscaling.{key} is {describe(seconds)}; Fireworks requires at least {describe(low)}",
                       f"set autoscaling.{key} to {describe(low)} or more")]
    return []


def check_deployment(decl: Decl) -> list[Diagnostic]:
    """Rules about one deployment's own keys."""
    out = check_name(decl)
    if not isinstance(decl.body, dict):
        return out
    low, high = decl.get("replicas", "min"), decl.get("replicas", "max")
    if _number(low) is not None and _number(high) is not None and float(high) < float(low):
        out.append(_error(decl.span("replicas", "max"), f"replicas.max ({high}) is less than replicas.min ({low})",
                          "raise replicas.max or lower replicas.min so that min <= max"))
    out += _window(decl, "scale_up_window", None, HOUR)
    out += _window(decl, "scale_down_window", None, HOUR)
    out += _window(decl, "scale_to_zero_window", FIVE_MINUTES, None)
    targets = decl.get("autoscaling", "load_targets")
    if isinstance(targets, dict):
        for key, value in targets.items():
            number = _number(value)
            if number is not None and not math.isfinite(number):
                out.append(_error(decl.span("autoscaling", "load_targets", key),
                                  f"autoscaling.load_targets.{key} must be a finite number, not {value}",
                                  "write a plain number such as 0.8"))
    placement = decl.get("placement")
    if isinstance(placement, dict):
        keys = [key for key in ("region", "multi_region", "regions") if key in placement]
        if not keys:
            out.append(_error(decl.span("placement"), "placement must set exactly one of region, multi_region, regions",
                              "e.g. placement: {region: US_IOWA_1}; or remove placement for the GLOBAL default"))
        for extra in keys[1:]:
            out.append(_error(decl.sub_key_span("placement", extra),
                              f"placement sets both {keys[0]} and {extra}; set exactly one of region, multi_region, regions",
                              f"remove placement.{extra} or placement.{keys[0]}"))
    has_shape = decl.has("shape")
    has_type = decl.has("accelerator", "type")
    if has_shape and has_type:
        out.append(_error(decl.sub_key_span("shape"), "set either shape or accelerator.type, not both",
                          "with a deployment shape Fireworks picks the hardware and rejects acceleratorType; "
                          "remove accelerator.type (or remove shape)"))
    elif not has_shape and not has_type:
        out.append(_error(decl.key_span, f"deployment {decl.name!r} needs shape or accelerator.type",
                          "add 'shape: default' to let Fireworks pick a validated shape, or "
                          "accelerator: {type: NVIDIA_H100_80GB, count: 1}"))
    return out + check_lifecycle(decl)


def check_lifecycle(decl: Decl) -> list[Diagnostic]:
    entries = decl.get("lifecycle", "ignore_changes")
    if not isinstance(entries, list):
        return []
    table = ignore_paths(decl.kind)
    out = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str) and entry not in table:
            yaml_paths = sorted(DEPLOYMENT_PATHS if decl.kind == "deployment" else LORA_PATHS)
            out.append(_error(decl.span("lifecycle", "ignore_changes", index),
                              f"lifecycle.ignore_changes: unknown attribute {short(entry)} for a {decl.kind}",
                              join_hint(did_you_mean(entry, table), f"known: {', '.join(yaml_paths)}")))
    return out


def check_lora(decl: Decl, deployments: Mapping[str, Decl], complete: bool) -> list[Diagnostic]:
    """Rules about one LoRA: exclusive keys, its deployment reference, addons and base-model match."""
    out = check_name(decl)
    if not isinstance(decl.body, dict):
        return out
    target = decl.get("deployment")
    serverless = decl.get("serverless") is True
    if decl.has("deployment") and serverless:
        out.append(_error(decl.sub_key_span("serverless"), f"lora {decl.name!r} sets both deployment and serverless: true",
                          "a LoRA is served either on a deployment or serverless; remove one of them"))
    elif not decl.has("deployment") and not serverless:
        out.append(_error(decl.key_span, f"lora {decl.name!r} needs deployment: NAME or serverless: true",
                          "name a deployment declared in this folder (it needs addons: true), or set serverless: true"))
    if isinstance(target, str) and not serverless:
        out += _check_target(decl, target, deployments, complete)
    return out + check_lifecycle(decl)


def _check_target(decl: Decl, target: str, deployments: Mapping[str, Decl], complete: bool) -> list[Diagnostic]:
    span = decl.span("deployment")
    if target.startswith("deployment.") and target[len("deployment."):] in deployments:
        return [_error(span, f"deployment: {short(target)} is an address, not a deployment name",
                       f"write the bare name: deployment: {target[len('deployment.'):]}")]
    if target not in deployments:
        if not complete:
            return []  # another file could not be read; it may declare the deployment
        known = sorted(deployments)
        if "/" in target:
            message = f"deployment: {short(target)} is not a deployment declared in this folder"
        else:
            message = join_hint(f"no deployment {short(target)};", did_you_mean(target, known))
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        listing = f"declared deployments: {shown}" if known else "no deployments are declared in this folder"
        return [_error(span, message.rstrip(";"), join_hint("a LoRA attaches to a deployment of this config;", listing))]
    dep = deployments[target]
    out = []
    if dep.get("addons") is not True and isinstance(dep.body, dict):
        where = dep.span("addons") if dep.has("addons") else dep.key_span
        out.append(_error(span, f"deployment {target!r} does not have addons enabled, so lora {decl.name!r} cannot be loaded onto it",
                          f"set addons: true on deployment {target!r} ({where})"))
    mine, theirs = decl.get("base_model"), dep.get("base_model")
    if isinstance(mine, str) and isinstance(theirs, str) and mine != theirs:
        out.append(_error(decl.span("base_model"),
                          f"lora {decl.name!r} has base_model {mine} but deployment {target!r} serves {theirs}",
                          f"a LoRA must be served on a deployment of its base model; fix base_model here or at {dep.span('base_model')}"))
    return out


def check_limits(loras: Iterable[Decl], deployments: Mapping[str, Decl]) -> list[Diagnostic]:
    """At most 100 serverless LoRAs, and at most 100 LoRAs on one deployment."""
    out = []
    ordered = sorted(loras, key=lambda d: d.key_span)
    serverless = [d for d in ordered if d.get("serverless") is True and not d.has("deployment")]
    if len(serverless) > MAX_SERVERLESS_LORAS:
        first = serverless[MAX_SERVERLESS_LORAS]
        out.append(_error(first.key_span, f"more than {MAX_SERVERLESS_LORAS} serverless LoRAs ({len(serverless)} declared); "
                          f"lora {first.name!r} is number {MAX_SERVERLESS_LORAS + 1}",
                          f"Fireworks serves at most {MAX_SERVERLESS_LORAS} serverless LoRAs per account; "
                          "attach the others to a deployment with addons: true"))
    per: dict[str, list[Decl]] = {}
    for decl in ordered:
        target = decl.get("deployment")
        if isinstance(target, str) and target in deployments and decl.get("serverless") is not True:
            per.setdefault(target, []).append(decl)
    for target, attached in sorted(per.items()):
        if len(attached) > MAX_LORAS_PER_DEPLOYMENT:
            extra = attached[MAX_LORAS_PER_DEPLOYMENT]
            out.append(_error(deployments[target].key_span,
                              f"deployment {target!r} has {len(attached)} LoRAs attached; at most {MAX_LORAS_PER_DEPLOYMENT} are allowed",
                              f"spread the LoRAs over more deployments (number {MAX_LORAS_PER_DEPLOYMENT + 1} is "
                              f"lora {extra.name!r} at {extra.key_span})"))
    return out


def explicit_dependencies(decl: Decl, known: Mapping[Address, Decl], complete: bool) -> tuple[list[Address], list[Diagnostic]]:
    """The addresses in ``depends_on`` that exist, and diagnostics for the others."""
    entries = decl.get("depends_on")
    if not isinstance(entries, list):
        return [], []
    found: list[Address] = []
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        span = decl.span("depends_on", index)
        try:
            address = Address.parse(entry)
        except ValueError:
            out.append(_error(span, f"depends_on: {short(entry)} is not an address",
                              "write KIND.NAME with KIND deployment or lora, e.g. deployment.shared-base"))
            continue
        if address in known:
            found.append(address)
        elif complete:
            names = [a.name for a in known if a.kind == address.kind]
            guess = close_match(address.name, names)
            out.append(_error(span, f"depends_on: no {address.kind} {address.name!r} is declared",
                              f"did you mean '{address.kind}.{guess}'?" if guess else
                              f"declare {address} or remove it from depends_on"))
    return found, out


def cycles(dependencies: Mapping[Address, Iterable[Address]], spans: Mapping[Address, Span]) -> list[Diagnostic]:
    """One diagnostic per member of each dependency cycle, the ring read as "X -> Y: X depends on Y"."""
    if not has_cycle(dependencies):  # the common case, in linear time; networkx only to describe a cycle
        return []
    return cycle_diagnostics(build_graph(dependencies).reverse(copy=True), spans)
