"""Adapter folders for tests: a real (tiny) safetensors file written with plain Python, no torch."""

from __future__ import annotations

import json
import struct
from pathlib import Path

BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def safetensors_bytes(values: int = 16, *, seed: int = 0) -> bytes:
    """A valid safetensors file: 8-byte little-endian header length, JSON header, F32 data."""
    data = struct.pack(f"<{values}f", *[float(seed + i) for i in range(values)])
    header = json.dumps({"base_model.model.layers.0.self_attn.q_proj.lora_A.weight":
                         {"dtype": "F32", "shape": [values], "data_offsets": [0, len(data)]},
                         "__metadata__": {"format": "pt"}}).encode()
    return struct.pack("<Q", len(header)) + header + data


def write_adapter(folder: Path, *, r: int = 8, seed: int = 0, base: str = "", values: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"r": r, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "peft_type": "LORA"}
    if base:
        config["base_model_name_or_path"] = base
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "adapter_model.safetensors").write_bytes(safetensors_bytes(values, seed=seed))
    return folder
