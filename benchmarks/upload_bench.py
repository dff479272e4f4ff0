"""Upload benchmark (issue 14): ``lorainfra apply`` of one model whose adapter folder holds SIZE bytes, through
the served emulator. Measures the client's wall time, CPU and peak RSS (wait4) and the emulator's peak RSS
(/proc VmHWM), and checks that the emulator kept exactly the bytes sent, on disk. Everything lives in the
suite's temporary work folder, removed when the suite ends; the adapter and the stored copy are deleted here
as soon as they are measured."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import BenchError, ServedEmulator, lorainfra_argv, measure

BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
ACCOUNT = "upload-bench"
MIB = 1 << 20


def write_adapter(folder: Path, size: int) -> Path:
    """adapter_config.json and an adapter_model.safetensors of exactly ``size`` bytes (one F32 tensor; the data
    is a sparse run of zeros, so writing 1 GB costs no disk time, while reading it costs a real read)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "target_modules": ["q_proj", "v_proj"],
                                                            "peft_type": "LORA"}))
    room = 256  # header bytes, padded with spaces (valid JSON) so that the file is exactly ``size`` bytes
    data = (size - 8 - room) // 4 * 4
    header = json.dumps({"lora_A.weight": {"dtype": "F32", "shape": [data // 4], "data_offsets": [0, data]}}).encode()
    header += b" " * (size - 8 - data - len(header))
    path = folder / "adapter_model.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.truncate(size)
    if path.stat().st_size != size:
        raise BenchError(f"wrote {path.stat().st_size} bytes, wanted {size}")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _vm_hwm_mb(pid: int) -> float:
    """Peak RSS of a running process (Linux VmHWM; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def bench_upload(size: int, work: Path, add: Callable[..., None]) -> None:
    """Apply a config of one model of ``size`` bytes against a served emulator; one report row."""
    print(f"upload: one model, {size / MIB:,.0f} MiB of adapter files", flush=True)
    folder = work / "upload"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lorainfra.yaml").write_text(f"provider:\n  account: {ACCOUNT}\nstate:\n  backend: local\n")
    (folder / "models.yaml").write_text(f"models:\n  big:\n    base_model: {BASE}\n    files: adapter\n")
    adapter = write_adapter(folder / "adapter", size)
    weights = adapter / "adapter_model.safetensors"
    db = work / "upload.db"
    try:
        with ServedEmulator(db, ready_after=0.0) as emu:
            run = measure([*lorainfra_argv(), "apply", str(folder), "--endpoint", emu.url, "--auto-approve"])
            server_peak = _vm_hwm_mb(emu.proc.pid)
            stored = sorted((Path(f"{db}.files")).glob("*"))
            sizes = sorted(p.stat().st_size for p in stored)
            want = sorted(p.stat().st_size for p in adapter.iterdir())
            if sizes != want:
                raise BenchError(f"the emulator holds files of {sizes} bytes on disk, expected {want}")
            if _sha256(max(stored, key=lambda p: p.stat().st_size)) != _sha256(weights):
                raise BenchError("the emulator's copy of adapter_model.safetensors differs from the file sent")
            check = measure([*lorainfra_argv(), "plan", str(folder), "--endpoint", emu.url, "--detailed-exitcode"])
            if "No changes" not in check.stdout:
                raise BenchError(f"plan after the upload is not empty:\n{check.stdout[-2000:]}")
    finally:
        shutil.rmtree(adapter, ignore_errors=True)
        shutil.rmtree(f"{db}.files", ignore_errors=True)
    rate = size / MIB / run.wall
    add(f"upload, one model of {size / MIB:,.0f} MiB through the served emulator (lorainfra apply)",
        f"{run.wall:.2f} s wall ({rate:,.0f} MiB/s), {run.cpu:.2f} s CPU, {run.max_rss_mb:.0f} MB peak RSS; "
        f"emulator peak RSS {server_peak:.0f} MB, bytes on disk and equal to the file",
        "client < 100 MB whatever the size", run.max_rss_mb < 100)
