"""Adapter folders read at load time: rank, modules and digest (the broken folders are corpus cases:
tests/config/make_corpus.py, adapter-*)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from lorainfra.config.loader import load_config
from lorainfra.errors import Span
from lorainfra.kinds.adapter_files import digest_files, list_files
from tests.models.adapters import BASE, safetensors_bytes, write_adapter

MAIN = "provider:\n  account: acme\n  endpoint: local\n"


def _config(root: Path, extra: str = "") -> Path:
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "models.yaml").write_text(f"models:\n  bot-v1:\n    base_model: {BASE}\n    files: adapters/bot\n{extra}")
    return root


def test_good_folder_gives_rank_modules_and_digest(tmp_path: Path) -> None:
    root = _config(tmp_path)
    write_adapter(root / "adapters" / "bot", r=16)
    resource = next(r for r in load_config(root).resources.values() if r.kind == "model")
    a = resource.attributes
    assert a["rank"] == 16 and list(a["target_modules"]) == ["q_proj", "v_proj"] and a["base_model"] == BASE
    files, _ = list_files("", root / "adapters" / "bot", Span("x"))
    assert a["digest"] == digest_files(tuple(files)) and len(a["digest"]) == 64
    write_adapter(root / "adapters" / "bot", r=16, seed=1)
    changed = next(r for r in load_config(root).resources.values() if r.kind == "model")
    assert changed.attributes["digest"] != a["digest"]


def test_safetensors_fixture_is_real() -> None:
    blob = safetensors_bytes(4)
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    assert header["base_model.model.layers.0.self_attn.q_proj.lora_A.weight"]["data_offsets"] == [0, 16]
    assert len(blob) == 8 + length + 16


def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """chmod cannot take read access from root (CI runs as root), so the permission check is made to see a file
    it may not read, as an unprivileged user's would: an error at that file's path, not a traceback."""
    import os

    from lorainfra.errors import ConfigError

    root = _config(tmp_path)
    write_adapter(root / "adapters" / "bot", r=16)
    (root / "adapters" / "bot" / "README.md").write_text("notes")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: not str(p).endswith("README.md") and real(p, mode, **kw))
    try:
        load_config(root)
    except ConfigError as exc:
        text = str(exc)
    else:
        raise AssertionError("an unreadable adapter file was accepted")
    assert text.startswith("adapters/bot/README.md: error: README.md cannot be read (permission denied)"), text
    assert "chmod a+r" in text
