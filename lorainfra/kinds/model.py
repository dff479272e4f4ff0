"""The ``model`` kind: a LoRA adapter uploaded from a local folder (accounts/{account}/models/{id}, ID chosen by us).

Created as HF_PEFT_ADDON with peftDetails read from adapter_config.json, then its files are uploaded
(the provider runs getUploadEndpoint, PUT per file, validateUpload) and it is READY. Weights are
immutable on Fireworks: the state keeps a digest of the files, and changed files plan a replacement.
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
from lorainfra.kinds import adapter_files
from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.kinds.base import AttributeSpec, DeclContext, Kind, RemoteChecks, Request

A = AttributeSpec
ATTRIBUTES: tuple[AttributeSpec, ...] = (
    A("base_model", ("peftDetails", "baseModel"), ("base_model",), forces_replacement=True),
    A("rank", ("peftDetails", "r"), ("files",), type="int", forces_replacement=True),
    A("target_modules", ("peftDetails", "targetModules"), ("files",), forces_replacement=True),
    A("display_name", ("displayName",), ("display_name",), default=""),
    A("description", ("description",), ("description",), default=""),
    # sha256 of the uploaded files: kept in the state, compared with the files on disk
    A("digest", (), ("files",), forces_replacement=True, local="state"),
    # the adapter folder (absolute) the upload reads; never compared
    A("folder", (), ("files",), local="input"),
)
PEFT_KIND = "HF_PEFT_ADDON"


def _folder(decl: Decl) -> Path | None:
    files = decl.get("files")
    if not isinstance(files, str) or not files:
        return None
    return Path(decl.root or ".", files)


@dataclass(frozen=True)
class ModelKind(Kind):
    """LoRA models: created with our ID, uploaded, validated; READY when usable. Weights never change."""

    # ------------------------------------------------------------------ config
    def check(self, decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
        folder = _folder(decl)
        if folder is None:
            return []  # the schema reported a missing or mistyped files:
        adapter, out = adapter_files.read_adapter(decl.root, folder, decl.span("files"))
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
        written = replace(self, attributes=tuple(s for s in self.attributes if s.yaml != ("files",)))
        values, spans = Kind.values(written, decl)
        folder = _folder(decl)
        assert folder is not None, "values() runs only on a declaration that passed its checks"
        adapter, problems = adapter_files.read_adapter(decl.root, folder, decl.span("files"))
        if adapter is None:  # changed between the check and now
            raise ValueError("; ".join(d.message for d in problems))
        values.update(rank=adapter.rank, target_modules=list(adapter.target_modules),
                      digest=adapter_files.digest_files(adapter.files), folder=str(folder.resolve()))
        for name in ("rank", "target_modules", "digest", "folder"):
            spans[name] = decl.span("files")
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

    # ------------------------------------------------------------------ requests
    def remote_id(self, resource_name: str) -> str:
        return resource_name

    def conflict_reason(self, message: str) -> str:
        return f"{message} (a model with this ID exists outside this config: import it or choose another ID)"

    def create_request(
        self, resource_id: str, attributes: Mapping[str, Any], *, account: str, validate_only: bool = False
    ) -> Request:
        model = self.to_wire(attributes, account=account)
        model["kind"] = PEFT_KIND
        return Request("POST", f"accounts/{account}/{self.collection}", body={"modelId": resource_id, "model": model})

    def upload_files(self, attributes: Mapping[str, Any]) -> tuple[AdapterFile, ...]:
        folder = attributes.get("folder")
        if not folder:
            return ()
        files, problems = adapter_files.list_files("", Path(str(folder)), Span(str(folder)))
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
)
