"""Adapter folders: what a LoRA upload holds (adapter_config.json, safetensors weights), checked before any API call.

Every problem is a Diagnostic at ``file:line`` (the file relative to the config folder). Files are read
in chunks (a weights file is never held in memory): the digest streams, the safetensors check reads
only the header.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorainfra.errors import Diagnostic, Span

CONFIG_FILE = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
# what Fireworks accepts (docs: fine-tuning/fine-tuning-models, "Uploading a LoRA"): rank 4-64 and these
# modules (up/down/gate also under their Mixtral names w1/w2/w3)
MIN_RANK, MAX_RANK = 4, 64
TARGET_MODULES = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj",
                            "w1", "w2", "w3", "block_sparse_moe.gate"})
MAX_CONFIG_BYTES = 1 << 20
MAX_HEADER_BYTES = 100 << 20  # the safetensors reference implementation's limit
CHUNK = 1 << 20
_DTYPES = frozenset({"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
                     "F32", "F64", "I64", "U64"})


@dataclass(frozen=True)
class AdapterFile:
    """One file to upload: its name on Fireworks, where it is read from, and its size."""

    name: str
    path: str
    size: int


@dataclass(frozen=True)
class Adapter:
    """What an adapter folder declares (read from adapter_config.json) and the files it holds."""

    rank: int
    target_modules: tuple[str, ...]
    base_model: str  # base_model_name_or_path as written ("" when absent)
    files: tuple[AdapterFile, ...]


def _line_of(text: str, key: str) -> int:
    """The line where ``"key":`` is first written in a JSON text (1 when not found)."""
    match = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _where(root: str, path: Path, line: int = 0) -> Span:
    try:
        shown = os.path.relpath(path, root)
    except ValueError:
        shown = str(path)
    return Span(shown, line, 1 if line else 0)


def list_files(root: str, folder: Path, at: Span) -> tuple[list[AdapterFile], list[Diagnostic]]:
    """The regular files directly in ``folder`` (sorted); directories, links to them, unreadable and
    special files are errors."""
    out: list[Diagnostic] = []
    if not folder.exists():
        return [], [Diagnostic(at, f"adapter folder {_where(root, folder)} does not exist",
                               "write the path of the folder holding adapter_config.json, relative to the config folder")]
    if not folder.is_dir():
        return [], [Diagnostic(at, f"{_where(root, folder)} is not a folder",
                               "files: names the folder holding adapter_config.json and adapter_model.safetensors")]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        return [], [Diagnostic(at, f"cannot list {_where(root, folder)}: {exc.strerror}", "check its permissions")]
    files: list[AdapterFile] = []
    for entry in entries:
        path = folder / entry.name
        where = _where(root, path)
        if entry.name.startswith("."):
            continue  # dotfiles (.gitattributes, .DS_Store) are not part of an adapter
        if entry.is_dir():
            link = " (a link to a folder)" if entry.is_symlink() else ""
            out.append(Diagnostic(where, f"{entry.name} is a folder{link}; only the files directly in the adapter folder are uploaded",
                                  "move it out of the adapter folder"))
            continue
        if not entry.is_file():
            out.append(Diagnostic(where, f"{entry.name} is not a regular file (a broken link or a special file)",
                                  "remove it or replace it with the file it stands for"))
            continue
        if not os.access(path, os.R_OK):
            out.append(Diagnostic(where, f"{entry.name} cannot be read (permission denied)", "make it readable (chmod a+r)"))
            continue
        files.append(AdapterFile(entry.name, str(path), entry.stat().st_size))
    return files, out


def check_config(root: str, path: Path) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """adapter_config.json parsed, and its problems (rank, target_modules)."""
    where = _where(root, path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        return None, [Diagnostic(where, f"cannot read {CONFIG_FILE}: {exc.strerror}", "check the file and its permissions")]
    if len(raw) > MAX_CONFIG_BYTES:
        return None, [Diagnostic(where, f"{CONFIG_FILE} is larger than 1 MB", "this is not a PEFT adapter config")]
    if not raw.strip():
        return None, [Diagnostic(where, f"{CONFIG_FILE} is empty",
                                 "write the adapter's PEFT config (at least r and target_modules)")]
    try:
        text = raw.decode("utf-8")
        config = json.loads(text)
    except UnicodeDecodeError:
        return None, [Diagnostic(where, f"{CONFIG_FILE} is not UTF-8 text", "write the PEFT config as JSON")]
    except json.JSONDecodeError as exc:
        return None, [Diagnostic(_where(root, path, exc.lineno), f"{CONFIG_FILE} is not valid JSON: {exc.msg}",
                                 "fix the JSON syntax")]
    if not isinstance(config, dict):
        return None, [Diagnostic(_where(root, path, 1), f"{CONFIG_FILE} must hold a JSON object",
                                 "write the PEFT config: {\"r\": 16, \"target_modules\": [...], ...}")]
    out: list[Diagnostic] = []
    r = config.get("r")
    if "r" not in config:
        out.append(Diagnostic(_where(root, path, 1), f"{CONFIG_FILE} has no r (the LoRA rank)",
                              f"set r to an integer from {MIN_RANK} to {MAX_RANK}"))
    elif isinstance(r, bool) or not isinstance(r, int) or not MIN_RANK <= r <= MAX_RANK:
        out.append(Diagnostic(_where(root, path, _line_of(text, "r")),
                              f"{CONFIG_FILE}: r is {json.dumps(r)}; Fireworks accepts ranks {MIN_RANK} to {MAX_RANK}",
                              f"retrain with a rank from {MIN_RANK} to {MAX_RANK}"))
    modules = config.get("target_modules")
    if isinstance(modules, str):
        modules = [modules]
    line = _line_of(text, "target_modules")
    if not isinstance(modules, list) or not modules or not all(isinstance(m, str) for m in modules):
        out.append(Diagnostic(_where(root, path, line), f"{CONFIG_FILE}: target_modules must be a non-empty list of module names",
                              f"name modules from: {', '.join(sorted(TARGET_MODULES))}"))
    else:
        bad = sorted(set(modules) - TARGET_MODULES)
        if bad:
            out.append(Diagnostic(_where(root, path, line),
                                  f"{CONFIG_FILE}: target_modules {', '.join(bad)} not supported by Fireworks",
                                  f"retrain targeting only: {', '.join(sorted(TARGET_MODULES))}"))
    return config, out


def check_safetensors(root: str, path: Path, size: int) -> list[Diagnostic]:
    """The header parses: 8-byte little-endian length, a JSON object of tensors whose offsets fit the file."""
    where = _where(root, path)
    name = path.name
    if size == 0:
        return [Diagnostic(where, f"{name} is empty (0 bytes)", "copy the trained weights again")]
    if size < 8:
        return [Diagnostic(where, f"{name} is {size} bytes, too short for a safetensors header", "copy the trained weights again")]
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > MAX_HEADER_BYTES or length > size - 8:
                return [Diagnostic(where, f"{name}: safetensors header length {length} does not fit the file ({size} bytes)",
                                   "the file is truncated or not safetensors; copy the trained weights again")]
            raw = fh.read(length)
    except OSError as exc:
        return [Diagnostic(where, f"cannot read {name}: {exc.strerror}", "check the file and its permissions")]
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [Diagnostic(where, f"{name}: the safetensors header is not JSON", "the file is damaged or not safetensors")]
    if not isinstance(header, dict):
        return [Diagnostic(where, f"{name}: the safetensors header is not a JSON object", "the file is damaged or not safetensors")]
    data = size - 8 - length
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not tensors:
        return [Diagnostic(where, f"{name} holds no tensors", "save the adapter weights again")]
    for tensor, info in sorted(tensors.items()):
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        dtype = info.get("dtype") if isinstance(info, dict) else None
        if (dtype not in _DTYPES or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data):
            return [Diagnostic(where, f"{name}: tensor {tensor!r} has a bad dtype or data_offsets outside the {data} data bytes",
                               "the file is truncated or damaged; copy the trained weights again")]
    return []


def read_adapter(root: str, folder: Path, at: Span) -> tuple[Adapter | None, list[Diagnostic]]:
    """Check an adapter folder completely; the Adapter only when there is no error."""
    files, out = list_files(root, folder, at)
    if not folder.is_dir():
        return None, out
    names = {f.name: f for f in files}
    config: dict[str, Any] | None = None
    if CONFIG_FILE in names:
        config, problems = check_config(root, folder / CONFIG_FILE)
        out += problems
    elif not (folder / CONFIG_FILE).exists():
        out.append(Diagnostic(at, f"{_where(root, folder)} has no {CONFIG_FILE}",
                              "a LoRA upload needs adapter_config.json and adapter_model.safetensors (as saved by PEFT)"))
    weights = [names[w] for w in WEIGHT_FILES if w in names]
    if not weights and not any((folder / w).exists() for w in WEIGHT_FILES):
        out.append(Diagnostic(at, f"{_where(root, folder)} has no {WEIGHT_FILES[0]} (nor {WEIGHT_FILES[1]})",
                              "copy the trained adapter weights into the folder"))
    for weight in weights:
        if weight.name.endswith(".safetensors"):
            out += check_safetensors(root, Path(weight.path), weight.size)
        elif weight.size == 0:
            out.append(Diagnostic(_where(root, Path(weight.path)), f"{weight.name} is empty (0 bytes)",
                                  "copy the trained weights again"))
    if out or config is None:
        return None, out
    modules = config["target_modules"]
    modules = [modules] if isinstance(modules, str) else modules
    base = config.get("base_model_name_or_path")
    return Adapter(int(config["r"]), tuple(sorted(set(modules))), base if isinstance(base, str) else "",
                   tuple(files)), []


def digest_files(files: tuple[AdapterFile, ...]) -> str:
    """sha256 over (name, size, sha256 of the bytes) of every file by name; files are read in chunks.

    The uploader computes the same value from the bytes it sent (``providers.upload``)."""
    total = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        one = hashlib.sha256()
        with open(f.path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                one.update(chunk)
        total.update(f"{f.name}\0{f.size}\0".encode())
        total.update(one.digest())
    return total.hexdigest()
