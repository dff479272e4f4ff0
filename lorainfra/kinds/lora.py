"""The ``lora`` kind: a LoRA adapter loaded onto a deployment or serverless (a DeployedModel; the server
names it). Found again by its identity: model + deployment ID (or serverless)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lorainfra import documented
from lorainfra.addresses import Address, valid_id
from lorainfra.config.by_kind import of_kind
from lorainfra.config.decl import Decl
from lorainfra.config.hints import did_you_mean, join_hint, short
from lorainfra.config.model import Resource
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.base import AttributeSpec, DeclContext, Kind, Lookup, RemoteChecks, Replacement
from lorainfra.kinds.deployment import DEPLOYMENT
from lorainfra.kinds.model import MODEL
from lorainfra.live import ModelInfo, Observed, RemoteObject

MAX_LORAS_PER_DEPLOYMENT = 100
# A LoRA load that failed: the DeployedModel enum has no FAILED; the Build SDK reads STATE_UNSPECIFIED
# with a status message as a failed load (fireworks/llm/llm.py).
_LOADING = frozenset({"DEPLOYING", "UPDATING", "DEPLOYED", "UNDEPLOYING"})

ATTRIBUTES: tuple[AttributeSpec, ...] = (
    AttributeSpec("model", ("model",), ("model",), forces_replacement=True),
    AttributeSpec("deployment", ("deployment",), ("deployment",), forces_replacement=True, default=""),
    AttributeSpec("serverless", ("serverless",), ("serverless",), forces_replacement=True, default=False),
    # no default: the server may fill them in, so they are compared only when the config sets them
    AttributeSpec("display_name", ("displayName",), ("display_name",)),
    AttributeSpec("description", ("description",), ("description",)),
)


def identity_key(attributes: Mapping[str, Any]) -> tuple[str, str, bool]:
    """What identifies a loaded LoRA: its model, its deployment ID ("" when serverless, whatever the server
    reports), serverless."""
    serverless = bool(attributes.get("serverless", False))
    return (str(attributes.get("model", "")), "" if serverless else str(attributes.get("deployment", "") or ""),
            serverless)


MODEL_REF = MODEL.name + "."  # model: model.NAME names a model declared under models:


def model_ref(value: object) -> str | None:
    """The NAME of ``model: model.NAME`` (None for a full model name or anything else)."""
    return value[len(MODEL_REF):] if isinstance(value, str) and value.startswith(MODEL_REF) else None


def _check_model_ref(decl: Decl, name: str, models: Mapping[str, Decl], complete: bool) -> list[Diagnostic]:
    if name in models or not complete or not valid_id(name):
        return []  # declared (or in a file that could not be read; or the schema reported a bad name)
    known = sorted(models)
    shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    listing = f"declared models: {shown}" if known else "no models are declared in this folder"
    return [Diagnostic(decl.span("model"), join_hint(f"no model {short(name)} under models:;", did_you_mean(name, known)).rstrip(";"),
                       join_hint("model.NAME names a model this folder uploads (or write the full name "
                                 "accounts/ACCOUNT/models/ID);", listing))]


def _planned_model(model_name: str, resources: Mapping[Address, Resource]) -> Resource | None:
    """The model this config uploads under ``model_name`` (accounts/A/models/ID), if any."""
    model_id = model_name.rpartition("/models/")[2]
    if "/models/" not in model_name:
        return None
    return next((r for r in of_kind(resources, MODEL.name)
                 if str(r.attributes.get("model_id") or r.name) == model_id), None)


def _check_target(decl: Decl, target: str, deployments: Mapping[str, Decl], complete: bool) -> list[Diagnostic]:
    span = decl.span("deployment")
    if target.startswith("deployment.") and target[len("deployment."):] in deployments:
        return [Diagnostic(span, f"deployment: {short(target)} is an address, not a deployment name",
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
        return [Diagnostic(span, message.rstrip(";"), join_hint("a LoRA attaches to a deployment of this config;", listing))]
    dep = deployments[target]
    out = []
    if dep.get("addons") is not True and isinstance(dep.body, dict):
        where = dep.span("addons") if dep.has("addons") else dep.key_span
        out.append(Diagnostic(span, f"deployment {target!r} does not have addons enabled, so lora {decl.name!r} cannot be loaded onto it",
                              f"set addons: true on deployment {target!r} ({where})"))
    mine, theirs = decl.get("base_model"), dep.get("base_model")
    if isinstance(mine, str) and isinstance(theirs, str) and mine != theirs:
        out.append(Diagnostic(decl.span("base_model"),
                              f"lora {decl.name!r} has base_model {mine} but deployment {target!r} serves {theirs}",
                              f"a LoRA must be served on a deployment of its base model; fix base_model here or at {dep.span('base_model')}"))
    return out


# the base models documented to take serverless LoRAs; no field of a Model says it (shared with the emulator)
DOCUMENTED_SERVERLESS_LORA_BASES = documented.SERVERLESS_LORA_BASES


async def _serverless_checks(
    resource: Resource, resources: Mapping[Address, Resource], remote: RemoteChecks, base: str
) -> list[Diagnostic]:
    """A warning for a base model not documented to take serverless LoRAs; an error past the per-base limit."""
    span = resource.attribute_spans.get("serverless", resource.span)
    out = []
    if base not in DOCUMENTED_SERVERLESS_LORA_BASES:
        out.append(Diagnostic(span, f"base model {short(base)} is not documented to take serverless LoRAs "
                              f"(documented: {', '.join(short(b) for b in DOCUMENTED_SERVERLESS_LORA_BASES)})",
                              "Fireworks may refuse the load; if it does, attach the LoRA to a deployment with "
                              "addons: true", severity="warning"))
    same: list[Resource] = []
    # only the LoRAs, in address order (grouped once per plan by the planner), not every resource per LoRA
    for other in (r for r in of_kind(resources, resource.kind) if r.attributes.get("serverless") is True):
        info = await remote.get_model(str(other.attributes.get("model", "")))
        if info is not None and info.base_model == base:
            same.append(other)
    limit = remote.limits.serverless_per_base_model
    if len(same) > limit and resource in same[limit:]:
        out.append(Diagnostic(span, f"{len(same)} serverless LoRAs on base model {short(base)}; "
                              f"{resource.address} is number {same.index(resource) + 1}",
                              f"Fireworks serves at most {limit} serverless LoRAs per base model per account "
                              "(provider.limits.serverless_per_base_model); attach the others to a deployment "
                              "with addons: true"))
    return out


def _per_base_limit(on_base: list[Decl], base: str, limit: int) -> list[Diagnostic]:
    if len(on_base) <= limit:
        return []
    extra = on_base[limit]
    return [Diagnostic(extra.key_span, f"more than {limit} serverless LoRAs on base model {short(base)} "
                       f"({len(on_base)} declared); lora {extra.name!r} is number {limit + 1}",
                       f"Fireworks serves at most {limit} serverless LoRAs per base model per account "
                       "(provider.limits.serverless_per_base_model); attach the others to a deployment with addons: true")]


def _target_span(spans: Mapping[str, Span], fallback: Span) -> Span:
    """Where a LoRA says where it is loaded: its deployment (a fleet's list item), else serverless: true."""
    return spans.get("deployment") or spans.get("serverless") or fallback


def _one_live_object(loras: Iterable[tuple[str, Span, tuple[str, str, bool]]]) -> list[Diagnostic]:
    """The one rule: two LoRAs with one identity (the same model on the same deployment, or the same model
    serverless) would be one live object (the second would adopt the first's copy, and one fate would be two
    addresses' fate). An error at the later declaration, naming the first. ``loras``: (address, span, identity)."""
    first: dict[tuple[str, str, bool], tuple[str, Span]] = {}
    out = []
    # by span, then address: the span's fields compared as a tuple (Span's own order, without its __lt__ per pair)
    for address, span, key in sorted(loras, key=lambda e: (e[1].file, e[1].line, e[1].col, e[0])):
        model, deployment, serverless = key
        if not model:
            continue  # the schema reported it
        if key not in first:
            first[key] = (address, span)
            continue
        other, where = first[key]
        on = "serverless" if serverless else f"deployment {short(deployment)}"
        out.append(Diagnostic(span, f"{address} loads model {short(model)} on {on}, as {other} does (at {where}): "
                              "both would be one live object",
                              "Fireworks loads a model once per deployment (once serverless): remove one of the two, "
                              "or load another model or onto another deployment", address=address))
    return out


FLEET_KEY = "deployments"  # a LoRA declared once for several deployments: one item per deployment
EXTERNAL_KEY = "external"  # deployment: {external: accounts/A/deployments/D}: a deployment managed elsewhere


def external_deployment(value: object) -> str | None:
    """The full name in ``deployment: {external: NAME}``; None for a deployment of this folder (or bad input)."""
    if isinstance(value, dict) and isinstance(value.get(EXTERNAL_KEY), str):
        return str(value[EXTERNAL_KEY])
    return None


async def _external_checks(resource: Resource, dep_id: str, model: ModelInfo, remote: RemoteChecks) -> list[Diagnostic]:
    """A deployment that another team manages: it exists in this account, is READY (or on its way), has addons on
    and serves the LoRA's base model. Read only: lorainfra never changes it."""
    span = resource.attribute_spans.get("deployment", resource.span)
    if "/" in dep_id:  # not bound to this account by ``bind``
        other = dep_id.split("/")[1] if dep_id.startswith("accounts/") else dep_id
        return [Diagnostic(span, f"external deployment {dep_id} is in account {other}, but this plan is for "
                           f"account {remote.account}",
                           "a LoRA is loaded in the account lorainfra manages (provider.account); name a deployment "
                           f"of account {remote.account}, or load it from a config for account {other}")]
    name = DEPLOYMENT.remote_name(remote.account, dep_id)
    owners = "ask its owners (lorainfra never changes an external deployment)"
    live = await remote.get(DEPLOYMENT.name, name)
    if live is None:
        return [Diagnostic(span, f"external deployment {name} does not exist",
                           "check the name with the team that manages it (firectl get deployment ID)")]
    if live.gone:
        return [Diagnostic(span, f"external deployment {name} is being deleted ({live.state})", owners)]
    out = []
    if live.failed:
        out.append(Diagnostic(span, f"external deployment {name} is {live.state}: it will not become READY", owners))
    elif live.state != DEPLOYMENT.ready_state:
        out.append(Diagnostic(span, f"external deployment {name} is {live.state or 'in no state'}, not READY",
                              "apply waits for it to be READY before loading the LoRA", severity="warning"))
    if live.attributes.get("enable_addons") is not True:
        out.append(Diagnostic(span, f"external deployment {name} does not have addons enabled, so "
                              f"{resource.address} cannot be loaded onto it", f"addons must be on: {owners}"))
    serves = str(live.attributes.get("base_model", "") or "")
    if model.base_model and serves and model.base_model != serves:
        out.append(Diagnostic(resource.attribute_spans.get("model", span),
                              f"LoRA {model.name} is trained on {model.base_model} but external deployment "
                              f"{name} serves {serves}", f"load it on a deployment of {model.base_model}"))
    return out


def _fleet_item(decl: Decl, index: int, target: object, seen: dict[str, Span]) -> tuple[Decl | None, list[Diagnostic]]:
    """Item ``index`` of a fleet (``deployments: [a, b]``): the LoRA on deployment ``target``, keyed by its name."""
    span = decl.span(FLEET_KEY, index)
    if not isinstance(target, str):
        return None, []  # the schema reported it
    if target.startswith("deployment.") and valid_id(target[len("deployment."):]):
        return None, [Diagnostic(span, f"{FLEET_KEY}: {short(target)} is an address, not a deployment name",
                                 f"write the bare name: {target[len('deployment.'):]}")]
    if not valid_id(target):
        return None, [Diagnostic(span, f"{FLEET_KEY}: {short(target)} is not a deployment name",
                                 "list the names of deployments declared in this folder, e.g. "
                                 f"{FLEET_KEY}: [shared-base, eu-base]")]
    if target in seen:
        return None, [Diagnostic(span, f"{FLEET_KEY}: {target} is listed twice (first at {seen[target]})",
                                 f"remove one: lora.{decl.name}[{target}] is one LoRA")]
    seen[target] = span
    body = {k: v for k, v in decl.body.items() if k != FLEET_KEY}
    body["deployment"] = target
    item = Decl(decl.kind, decl.name, body, decl.doc, decl.section, decl.root, key=target,
                moved={"deployment": (FLEET_KEY, index)})
    return item, []


@dataclass(frozen=True)
class LoraKind(Kind):
    """LoRAs: loaded with POST deployedModels (server-chosen name), DEPLOYED when serving."""

    # ------------------------------------------------------------------ config
    def expand(self, decl: Decl) -> tuple[list[Decl], list[Diagnostic]]:
        """``deployments: [a, b]`` stands for ``lora.NAME[a]`` and ``lora.NAME[b]``, each a LoRA with
        ``deployment: a`` (``b``) and the rest of the body; keyed by the deployment, so the addresses stay
        when the list is reordered."""
        if not isinstance(decl.body, dict) or FLEET_KEY not in decl.body:
            return [decl], []
        targets = decl.body[FLEET_KEY]
        if "deployment" in decl.body or decl.body.get("serverless") is True:
            other = "deployment" if "deployment" in decl.body else "serverless"
            return [], [Diagnostic(decl.sub_key_span(other), f"lora {decl.name!r} sets both {FLEET_KEY} and {other}",
                                   f"a fleet ({FLEET_KEY}: [...]) lists every deployment the LoRA is loaded on; "
                                   f"remove {other}, or remove {FLEET_KEY}")]
        if not isinstance(targets, list):
            return [], []  # the schema reported it
        items: list[Decl] = []
        out: list[Diagnostic] = []
        seen: dict[str, Span] = {}
        for index, target in enumerate(targets):
            item, problems = _fleet_item(decl, index, target, seen)
            out += problems
            if item is not None:
                items.append(item)
        return items, out

    def values(self, decl: Decl) -> tuple[dict[str, Any], dict[str, Span]]:
        values, spans = super().values(decl)
        external = external_deployment(decl.get("deployment"))
        if external is not None:
            values["deployment"] = external  # the full name; ``bind`` makes it an ID in its own account
        if values.get("serverless") is True:
            values["deployment"] = ""
        return values, spans

    def check(self, decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        target = decl.get("deployment")
        serverless = decl.get("serverless") is True
        if decl.has("deployment") and serverless:
            out.append(Diagnostic(decl.sub_key_span("serverless"), f"lora {decl.name!r} sets both deployment and serverless: true",
                                  "a LoRA is served either on a deployment or serverless; remove one of them"))
        elif not decl.has("deployment") and not serverless:
            out.append(Diagnostic(decl.key_span, f"lora {decl.name!r} needs deployment: NAME or serverless: true",
                                  "name a deployment declared in this folder (it needs addons: true), several with deployments: "
                                  "[a, b], or set serverless: true"))
        if isinstance(target, str) and not serverless:
            out += _check_target(decl, target, ctx.of_kind(DEPLOYMENT.name), ctx.complete)
        model = decl.get("model")
        ref = model_ref(model)
        if ref is not None:
            out += _check_model_ref(decl, ref, ctx.of_kind(MODEL.name), ctx.complete)
        elif isinstance(model, str) and "/models/" in model:
            target = ctx.of_kind(MODEL.name).get(model.rpartition("/models/")[2])
            if target is not None and target.get("id_from_content") is True:
                out.append(Diagnostic(decl.span("model"), f"model {target.name!r} has id_from_content: true: its "
                                      f"Fireworks ID is {target.name}-DIGEST (8 hex digits of its files), not {target.name}",
                                      f"write model: model.{target.name} (it follows the files)"))
        return out

    def implied_dependencies(self, decl: Decl, ctx: DeclContext) -> list[Address]:
        out = []
        target = decl.get("deployment")
        if isinstance(target, str) and target in ctx.of_kind(DEPLOYMENT.name) and decl.get("serverless") is not True:
            out.append(Address(DEPLOYMENT.name, target))
        model = decl.get("model")  # a model this folder uploads: loaded after it, unloaded before it is deleted
        ref = model_ref(model)
        if ref is None and isinstance(model, str) and "/models/" in model:
            ref = model.rpartition("/models/")[2]
        if ref is not None and ref in ctx.of_kind(MODEL.name):
            out.append(Address(MODEL.name, ref))
        return out

    def bind(self, attributes: Mapping[str, Any], resources: Mapping[Address, Resource], account: str) -> Mapping[str, Any]:
        """``model: model.NAME`` becomes the full name of that model's Fireworks ID (``id_from_content``: with its
        files' digest), so that the diff, the identity and the request all see what the server knows; an external
        deployment of this account is named by its ID, as LoRAs on it read back."""
        bound = dict(attributes)
        ref = model_ref(attributes.get("model"))
        target = resources.get(Address(MODEL.name, ref)) if ref is not None else None
        if target is not None:
            model_id = str(target.attributes.get("model_id") or target.name)
            bound["model"] = MODEL.remote_name(account, model_id)
        deployment = str(attributes.get("deployment") or "")
        prefix = DEPLOYMENT.remote_name(account, "")
        if deployment.startswith(prefix):
            bound["deployment"] = deployment[len(prefix):]
        return attributes if bound == dict(attributes) else frozen_mapping(bound)

    def check_bound(self, resources: Iterable[Resource]) -> list[Diagnostic]:
        """After ``bind`` (at plan time): no two LoRAs are one live object, where only the bound names tell
        (``model.NAME`` and the full name of that model; an external deployment of this account named in full)."""
        return _one_live_object((str(r.address), _target_span(r.attribute_spans, r.span), identity_key(r.attributes))
                                for r in resources)

    def check_all(self, decls: Iterable[Decl], ctx: DeclContext) -> list[Diagnostic]:
        """At most provider.limits.serverless serverless LoRAs (and serverless_per_base_model per declared
        base_model), at most 100 LoRAs on one deployment, and no two LoRAs that are one live object (as written;
        ``check_bound`` sees the names the plan resolves)."""
        deployments = ctx.of_kind(DEPLOYMENT.name)
        out = []
        ordered = sorted(decls, key=lambda d: d.key_span)
        written = []
        for decl in ordered:
            if isinstance(decl.body, dict) and isinstance(decl.get("model"), str):
                values, spans = ctx.values(decl, self)
                written.append((str(decl.address), _target_span(spans, decl.key_span), identity_key(values)))
        out += _one_live_object(written)
        serverless = [d for d in ordered if d.get("serverless") is True and not d.has("deployment")]
        limit = ctx.limits.serverless
        if len(serverless) > limit:
            first = serverless[limit]
            out.append(Diagnostic(first.key_span, f"more than {limit} serverless LoRAs ({len(serverless)} declared); "
                                  f"lora {first.name!r} is number {limit + 1}",
                                  f"provider.limits.serverless allows {limit} serverless LoRAs per account; "
                                  "attach the others to a deployment with addons: true"))
        per_base: dict[str, list[Decl]] = {}
        for decl in serverless:
            base = decl.get("base_model")
            if isinstance(base, str):
                per_base.setdefault(base, []).append(decl)
        for base, on_base in sorted(per_base.items()):
            out += _per_base_limit(on_base, base, ctx.limits.serverless_per_base_model)
        per: dict[str, list[Decl]] = {}
        for decl in ordered:
            target = decl.get("deployment")
            if isinstance(target, str) and target in deployments and decl.get("serverless") is not True:
                per.setdefault(target, []).append(decl)
        for target, attached in sorted(per.items()):
            if len(attached) > MAX_LORAS_PER_DEPLOYMENT:
                extra = attached[MAX_LORAS_PER_DEPLOYMENT]
                out.append(Diagnostic(deployments[target].key_span,
                                      f"deployment {target!r} has {len(attached)} LoRAs attached; at most {MAX_LORAS_PER_DEPLOYMENT} are allowed",
                                      f"spread the LoRAs over more deployments (number {MAX_LORAS_PER_DEPLOYMENT + 1} is "
                                      f"lora {extra.name!r} at {extra.key_span})"))
        return out

    async def precheck(
        self, resource: Resource, resources: Mapping[Address, Resource], remote: RemoteChecks
    ) -> list[Diagnostic]:
        """The model exists and is READY, fits its deployment's base, and supports serverless when asked."""
        a = resource.attributes
        model_name = str(a.get("model", ""))
        span = resource.attribute_spans.get("model", resource.span)
        planned = _planned_model(model_name, resources)
        if planned is not None:  # uploaded by this config: its planned base
            model: ModelInfo | None = ModelInfo(model_name, state="READY",
                                                base_model=str(planned.attributes.get("base_model", "")))
        else:
            model = await remote.get_model(model_name)
        if model is None:
            return [Diagnostic(span, f"model {model_name} does not exist in the account",
                               "upload the LoRA first (firectl create model) or fix the name")]
        if model.state and model.state != "READY":
            return [Diagnostic(span, f"model {model_name} is {model.state}, not READY",
                               "finish the upload (validateUpload) before loading it")]
        problems: list[Diagnostic] = []
        dep_id = str(a.get("deployment") or "")
        if dep_id:
            dep = resources.get(Address(DEPLOYMENT.name, dep_id))
            if dep is None:  # not a deployment of this folder: an external one
                return await _external_checks(resource, dep_id, model, remote)
            dep_base = str(dep.attributes.get("base_model", "")) if dep else ""
            if dep and model.base_model and dep_base and model.base_model != dep_base:
                problems.append(Diagnostic(
                    span,
                    f"LoRA {model_name} is trained on {model.base_model} but deployment.{dep_id} serves {dep_base}",
                    f"load it on a deployment of {model.base_model}, or change deployment.{dep_id}'s base_model",
                ))
        elif a.get("serverless") and model.base_model:
            problems += await _serverless_checks(resource, resources, remote, model.base_model)
        return problems

    # ------------------------------------------------------------------ live objects
    def observe(
        self, name: str, state: str = "", attributes: Mapping[str, Any] | None = None, status_message: str = "",
        create_time: str = "", update_time: str = "",
    ) -> RemoteObject:
        # a serverless LoRA has no deployment of ours, whatever deployment the server reports it on
        if attributes and attributes.get("serverless") is True and attributes.get("deployment"):
            attributes = {**attributes, "deployment": ""}
        return super().observe(name, state, attributes, status_message, create_time, update_time)

    def platform_owned(self, obj: RemoteObject, objects: Mapping[str, RemoteObject], account: str) -> bool:
        """The base model Fireworks deploys onto a new deployment (unless ``disableAutoDeploy``) is listed as a
        DeployedModel too: a row whose model is its deployment's base model is not a LoRA."""
        dep_id = str(obj.attributes.get("deployment") or "")
        dep = objects.get(DEPLOYMENT.remote_name(account, dep_id)) if dep_id else None
        return dep is not None and dep.attributes.get("base_model") == obj.attributes.get("model")

    def is_failed(self, state: str, status_message: str) -> bool:
        return super().is_failed(state, status_message) or (bool(status_message) and state not in _LOADING)

    def match_key(self, attributes: Mapping[str, Any]) -> Hashable:
        return identity_key(attributes)

    def wire_out(self, spec: AttributeSpec, value: Any, account: str) -> tuple[bool, Any]:
        if spec.name == "deployment":
            if not value:
                return False, value
            return True, value if "/" in str(value) else DEPLOYMENT.remote_name(account, str(value))
        if spec.name == "serverless" and not value:
            return False, value
        return True, value

    def wire_in(self, spec: AttributeSpec, value: Any, account: str) -> Any:
        if spec.name == "deployment":
            prefix = DEPLOYMENT.remote_name(account, "")
            return value[len(prefix):] if isinstance(value, str) and value.startswith(prefix) else value
        return value

    def identity(self, resource_name: str, attributes: Mapping[str, Any], account: str) -> Mapping[str, Any]:
        model, deployment, serverless = identity_key(attributes)
        return frozen_mapping({"model": model, "deployment": deployment, "serverless": serverless})

    def expected_name(self, identity: Mapping[str, Any]) -> str:
        return ""

    def find(self, identity: Mapping[str, Any], observed: Observed) -> RemoteObject | None:
        return observed.find(self.name, identity_key(identity))

    def lookup(self, identity: Mapping[str, Any], account: str) -> Lookup:
        key = identity_key(identity)
        _, deployment, serverless = key
        target = DEPLOYMENT.remote_name(account, deployment) if deployment else ""
        return Lookup(filter="serverless=true" if serverless else f'deployment="{target}"', key=key)

    def prerequisites(self, attributes: Mapping[str, Any]) -> tuple[Address, ...]:
        # a LoRA can only be loaded onto a READY deployment, even one this run does not touch (an
        # interrupted earlier run may have left it CREATING/UPDATING)
        dep_id = str(attributes.get("deployment") or "")
        return (Address(DEPLOYMENT.name, dep_id),) if dep_id else ()

    def create_first_blocker(
        self, before: Mapping[str, Any], after: Mapping[str, Any], observed: Observed
    ) -> str:
        """The same model cannot be loaded twice on one target, and a deployment holds at most 100 LoRAs."""
        new = identity_key(after)
        if identity_key(before) == new:
            where = f"deployment.{new[1]}" if new[1] else "serverless"
            return f"the same model on {where} cannot be loaded twice"
        _, deployment, serverless = new
        if deployment and not serverless:
            loaded = sum(1 for o in observed.objects.values()
                         if o.kind == self.name and not o.gone and identity_key(o.attributes)[1] == deployment)
            if loaded >= MAX_LORAS_PER_DEPLOYMENT:
                return f"deployment.{deployment} already holds {loaded} LoRAs (at most {MAX_LORAS_PER_DEPLOYMENT})"
        return ""

    def adopt_note(self, address: str, name: str) -> str:
        return f"{address}: already loaded as {name}; adopting it"

    def app_target(self, remote_name: str, attributes: Mapping[str, Any],
                   remote_names: Mapping[Address, str]) -> tuple[str, str]:
        """Serverless: the model; on a deployment: ``model#deployment`` (routes to that deployment's addon)."""
        model = str(attributes.get("model", ""))
        dep_id = str(attributes.get("deployment") or "")
        if attributes.get("serverless") or not dep_id:
            return model, "serverless"
        account = remote_name.split("/")[1] if remote_name.startswith("accounts/") else ""
        deployment = remote_names.get(Address(DEPLOYMENT.name, dep_id)) or DEPLOYMENT.remote_name(account, dep_id)
        return f"{model}#{deployment}", "addon"


LORA = LoraKind(
    name="lora",
    section="loras",
    collection="deployedModels",
    noun="lora name",
    attributes=ATTRIBUTES,
    ready_state="DEPLOYED",
    # the DeployedModel enum has no DELETED; an UNDEPLOYING copy is on its way out
    gone_states=frozenset({"UNDEPLOYING"}),
    ready_timeout=1800.0,
    create_verb="load",
    # a new version or target is loaded and DEPLOYED before the old copy is unloaded: no gap
    replacement=Replacement.CREATE_BEFORE_DESTROY,
)
