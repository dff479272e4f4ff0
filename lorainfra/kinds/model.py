"""The ``model`` kind: a LoRA adapter uploaded from a local folder (accounts/{account}/models/{id}, ID chosen by us).

Created as HF_PEFT_ADDON with peftDetails read from adapter_config.json, then its files are uploaded
(the provider runs getUploadEndpoint, PUT per file, validateUpload) and it is READY. Weights are
immutable on Fireworks: the state keeps a digest of the files, and changed files plan a replacement.
With ``id_from_content: true`` the model's ID is the config key plus a short digest of the files
(``support-bot-4f3a9c1e``): a new version is a new model, created before the old one is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.decl import Decl
from lorainfra.config.model import Resource
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds import adapter_files
from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.kinds.base import AttributeSpec, DeclContext, Kind, RemoteChecks, Replacement, Request
from lorainfra.live import Observed, RemoteObject

A = AttributeSpec
ATTRIBUTES: tuple[AttributeSpec, ...] = (
    A("base_model", ("peftDetails", "baseModel"), ("base_model",), forces_replacement=True),
    A("rank", ("peftDetails", "r"), ("files",), type="int", forces_replacement=True),
    A("target_modules", ("peftDetails", "targetModules"), ("files",), forces_replacement=True),
    A("display_name", ("displayName",), ("display_name",), default=""),
    A("description", ("description",), ("description",), default=""),
    # sha256 of the uploaded files: kept in the state, compared with the files on disk
    A("digest", (), ("files",), forces_replacement=True, local="state"),
    # the adapter folder the upload reads, as the config writes it (relative to the config folder); never compared
    A("folder", (), ("files",), local="input"),
    # the Fireworks model ID, read from the live name: the key, or key-DIGEST8 with id_from_content
    A("model_id", ("name",), ("files",), forces_replacement=True),
)
PEFT_KIND = "HF_PEFT_ADDON"
CONTENT_ID_DIGITS = 8  # hex digits of the files digest in a content-derived ID
MAX_ID = 63
# attributes not written under their own YAML key: computed from the adapter folder and the key
_COMPUTED = ("rank", "target_modules", "digest", "folder", "model_id")


def model_id(name: str, digest: str, from_content: bool) -> str:
    """The Fireworks model ID of ``models: {name: ...}``: the name, or name-DIGEST8 (``id_from_content``)."""
    return f"{name}-{digest[:CONTENT_ID_DIGITS]}" if from_content else name


def _written(decl: Decl) -> str | None:
    """The adapter folder as the config writes it (``files:``), or None when it is missing or not a string."""
    files = decl.get("files")
    return files if isinstance(files, str) and files else None


def _folder(decl: Decl) -> Path | None:
    written = _written(decl)
    return None if written is None else resolve_folder(decl.root, written)


def resolve_folder(root: str, written: str) -> Path:
    """Where an adapter folder written in the config is: relative to the config folder ``root`` (an absolute
    path, as older states hold, stays as it is)."""
    return Path(root or ".", written)


@dataclass(frozen=True)
class ModelKind(Kind):
    """LoRA models: created with our ID, uploaded, validated; READY when usable. Weights never change."""

    # ------------------------------------------------------------------ config
    def check(self, decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        if decl.get("id_from_content") is True:
            longest = MAX_ID - CONTENT_ID_DIGITS - 1
            if len(decl.name) > longest:
                out.append(Diagnostic(decl.key_span, f"model {decl.name!r} is {len(decl.name)} characters; with "
                                      f"id_from_content: true its ID gets -{'X' * CONTENT_ID_DIGITS} appended, past "
                                      f"the {MAX_ID}-character limit of a Fireworks ID",
                                      f"shorten the name to at most {longest} characters"))
            ignored = decl.get("lifecycle", "ignore_changes")
            if isinstance(ignored, list) and "files" in ignored:
                out.append(Diagnostic(decl.span("lifecycle", "ignore_changes"),
                                      f"model {decl.name!r} sets id_from_content: true and ignores changes of its files",
                                      "with id_from_content the files name the model: remove files from ignore_changes, "
                                      "or id_from_content"))
        folder = _folder(decl)
        if folder is None:
            return out  # the schema reported a missing or mistyped files:
        adapter, problems = adapter_files.read_adapter(decl.root, folder, decl.span("files"))
        out += problems
        base = decl.get("base_model")
        if adapter is not None and isinstance(base, str) and adapter.base_model.startswith("accounts/") \
                and adapter.base_model != base:
            where = os.path.relpath(folder / adapter_files.CONFIG_FILE, decl.root or ".")
            out.append(Diagnostic(decl.span("base_model"),
                                  f"model {decl.name!r} has base_model {base} but {where} was trained on {adapter.base_model}",
                                  "a LoRA only loads onto the base it was trained on: fix base_model"))
        return out

    def values(self, decl: Decl) -> tuple[dict[str, Any], dict[str, Span]]:
        # the attributes written in YAML; the others come from the adapter folder
        written = replace(self, attributes=tuple(s for s in self.attributes if s.name not in _COMPUTED))
        values, spans = Kind.values(written, decl)
        folder = _folder(decl)
        assert folder is not None, "values() runs only on a declaration that passed its checks"
        adapter, problems = adapter_files.read_adapter(decl.root, folder, decl.span("files"))
        if adapter is None:  # changed between the check and now
            raise ValueError("; ".join(d.message for d in problems))
        digest = adapter_files.digest_files(adapter.files)
        values.update(rank=adapter.rank, target_modules=list(adapter.target_modules), digest=digest,
                      folder=_written(decl),  # shown and kept as written; the upload resolves it (upload_files)
                      model_id=model_id(decl.name, digest, decl.get("id_from_content") is True))
        for name in _COMPUTED:
            spans[name] = decl.span("id_from_content") if name == "model_id" and decl.has("id_from_content") \
                else decl.span("files")
        return values, spans

    async def precheck(
        self, resource: Resource, resources: Mapping[Address, Resource], remote: RemoteChecks
    ) -> list[Diagnostic]:
        """The base model exists and takes LoRA addons."""
        base = str(resource.attributes.get("base_model", ""))
        span = resource.attribute_spans.get("base_model", resource.span)
        info = await remote.get_model(base)
        if info is None:
            return [Diagnostic(span, f"base model {base} does not exist", "write the full name of a Fireworks base model")]
        if not info.supports_lora:
            return [Diagnostic(span, f"base model {base} does not take LoRA addons",
                               "train the adapter on a base model that supports LoRA (supportsLora)")]
        return []

    # ------------------------------------------------------------------ naming
    def remote_id(self, resource_name: str) -> str:
        return resource_name

    def identity(self, resource_name: str, attributes: Mapping[str, Any], account: str) -> Mapping[str, Any]:
        return frozen_mapping({"remote_name": self.remote_name(account, str(attributes.get("model_id") or resource_name))})

    def wire_out(self, spec: AttributeSpec, value: Any, account: str) -> tuple[bool, Any]:
        return spec.name != "model_id", value  # the ID goes in modelId, beside the body

    def wire_in(self, spec: AttributeSpec, value: Any, account: str) -> Any:
        if spec.name == "model_id":
            prefix = self.remote_name(account, "")
            return value[len(prefix):] if isinstance(value, str) and value.startswith(prefix) else value
        return value

    def create_first_blocker(
        self, before: Mapping[str, Any], after: Mapping[str, Any], observed: Observed
    ) -> str:
        """A new version under a new ID (id_from_content) is uploaded before the old model is deleted."""
        if before.get("model_id") == after.get("model_id"):
            return (f"its {self.noun} {after.get('model_id')} names one live object, which cannot exist twice "
                    "(id_from_content: true gives every version of the files its own ID)")
        return ""

    def users(self, remote_name: str, observed: Observed) -> tuple[RemoteObject, ...]:
        """Whatever serves this model: a loaded LoRA (its ``model``) or a live-merge deployment (its ``base_model``)."""
        return tuple(o for _, o in sorted(observed.objects.items()) if not o.gone and o.kind != self.name
                     and remote_name in (o.attributes.get("model"), o.attributes.get("base_model")))

    # ------------------------------------------------------------------ requests
    def conflict_reason(self, message: str) -> str:
        return f"{message} (a model with this ID exists outside this config: import it or choose another ID)"

    def create_request(
        self, resource_id: str, attributes: Mapping[str, Any], *, account: str, validate_only: bool = False
    ) -> Request:
        model = self.to_wire(attributes, account=account)
        model["kind"] = PEFT_KIND
        return Request("POST", f"accounts/{account}/{self.collection}",
                       body={"modelId": str(attributes.get("model_id") or resource_id), "model": model})

    def upload_files(self, attributes: Mapping[str, Any], root: str) -> tuple[AdapterFile, ...]:
        """The files of the adapter folder, read relative to the config folder ``root``."""
        folder = attributes.get("folder")
        if not folder:
            return ()
        files, problems = adapter_files.list_files(root, resolve_folder(root, str(folder)), Span(str(folder)))
        if problems:
            raise ValueError("; ".join(f"{d.span}: {d.message}" for d in problems))
        return tuple(files)


MODEL = ModelKind(
    name="model",
    section="models",
    collection="models",
    noun="model ID",
    attributes=ATTRIBUTES,
    ready_state="READY",
    gone_states=frozenset({"DELETING"}),
    ready_timeout=3600.0,
    report_unmanaged=False,
    # a new ID (id_from_content) is created and READY before the old model goes; the same ID cannot be
    replacement=Replacement.CREATE_BEFORE_DESTROY,
    upload_state="UPLOADING",
)
