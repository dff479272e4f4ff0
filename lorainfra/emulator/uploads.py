"""Model file upload flow: signed upload URLs, the PUT target, validateUpload and download URLs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import RpcError, invalid, not_found, precondition
from lorainfra.emulator.models import live
from lorainfra.emulator.store import update_row

MAX_STORED_BYTES = 1 << 20  # validateUpload reads at most this much of adapter_config.json
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


def _secret(ctx: Ctx, db: sqlite3.Connection) -> bytes:
    value = ctx.store.meta_get(db, "upload_secret")
    if not value:
        value = secrets.token_hex(16)
        ctx.store.meta_set(db, "upload_secret", value)
    return value.encode()


def _sign(secret: bytes, verb: str, model: str, filename: str) -> str:
    return hmac.new(secret, f"{verb}\n{model}\n{filename}".encode(), hashlib.sha256).hexdigest()[:32]


def _url(base_url: str, verb: str, model: str, filename: str, sig: str) -> str:
    kind = "uploads" if verb == "PUT" else "downloads"
    return f"{base_url.rstrip('/')}/emulator/v1/{kind}/{model}/{quote(filename, safe='')}?signature={sig}"


def get_upload_endpoint(
    ctx: Ctx, account: str, model_id: str, body: dict[str, Any], base_url: str
) -> dict[str, Any]:
    sizes = body.get("filenameToSize", body.get("filename_to_size"))
    if not isinstance(sizes, dict) or not sizes:
        raise invalid("filenameToSize must list every file with its size in bytes", field="filenameToSize")
    clean = {str(f): v.check_int(n, field=f"filenameToSize[{f}]", minimum=0) for f, n in sizes.items()}
    if any(not f or f.startswith("/") or ".." in f.split("/") for f in clean):
        raise invalid("filenameToSize: invalid file name", field="filenameToSize")
    with ctx.tx() as (db, _):
        row = live(db, account, model_id)
        if row["data"].get("state") != "UPLOADING":
            raise precondition(
                f"model {row['name']!r} is {row['data'].get('state')}; uploads are only accepted while "
                "UPLOADING",
                reason="MODEL_NOT_UPLOADING",
            )
        secret = _secret(ctx, db)
        db.execute("DELETE FROM model_files WHERE model = ?", (row["name"],))
        signed, unsigned = {}, {}
        for filename, size in clean.items():
            db.execute(
                "INSERT INTO model_files(model, filename, size) VALUES (?, ?, ?)",
                (row["name"], filename, size),
            )
            signed[filename] = _url(
                base_url, "PUT", row["name"], filename, _sign(secret, "PUT", row["name"], filename)
            )
            unsigned[filename] = f"gs://emulator-models/{row['name']}/{filename}"
    return {"filenameToSignedUrls": signed, "filenameToUnsignedUris": unsigned}


def blob_path(ctx: Ctx, model: str, filename: str) -> Path:
    """Where the bytes of one uploaded file are kept (on disk, never in the database or in memory)."""
    return ctx.store.blob(model, filename)


def begin_put(ctx: Ctx, model: str, filename: str, signature: str, headers: Mapping[str, str]) -> int:
    """Check a PUT like a signed URL would before any byte is read; the size it must send."""
    with ctx.tx() as (db, _):
        if not hmac.compare_digest(_sign(_secret(ctx, db), "PUT", model, filename), signature):
            raise RpcError(7, "invalid upload signature")
        row = db.execute(
            "SELECT size FROM model_files WHERE model = ? AND filename = ?", (model, filename)
        ).fetchone()
    if row is None:
        raise not_found("upload target", f"{model}/{filename}")
    size = int(row["size"])
    length_range = headers.get("x-goog-content-length-range")
    if length_range is None:  # a signed header: the real URL answers 403 SignatureDoesNotMatch
        raise RpcError(7, "X-Goog-Content-Length-Range is required by the signed URL")
    if length_range.replace(" ", "") != f"{size},{size}":
        raise invalid(f"X-Goog-Content-Length-Range {length_range!r} does not match the declared size {size}")
    declared = headers.get("content-length")
    if declared is not None and declared != str(size):
        raise invalid(f"{filename}: Content-Length {declared} is outside the signed range {size},{size}")
    return size


async def put_file(
    ctx: Ctx, model: str, filename: str, signature: str, headers: Mapping[str, str], body: AsyncIterator[bytes]
) -> None:
    """Stream one PUT to disk: exactly the declared size, its sha256 recorded; nothing is kept on a failure."""
    size = begin_put(ctx, model, filename, signature, headers)
    target = blob_path(ctx, model, filename)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(partial, "wb") as fh:
            async for chunk in body:
                written += len(chunk)
                if written > size:
                    raise invalid(f"{filename}: more than the declared {size} bytes sent")
                digest.update(chunk)
                fh.write(chunk)
        if written != size:
            raise invalid(f"{filename}: got {written} bytes, declared {size}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    with ctx.tx() as (db, _):
        db.execute(
            "UPDATE model_files SET uploaded = 1, content = NULL, sha256 = ? WHERE model = ? AND filename = ?",
            (digest.hexdigest(), model, filename),
        )


def file_sha256(ctx: Ctx, model: str, filename: str) -> str | None:
    """The sha256 recorded for an uploaded file (None when it was not uploaded)."""
    with ctx.tx() as (db, _):
        row = db.execute(
            "SELECT sha256 FROM model_files WHERE model = ? AND filename = ? AND uploaded = 1", (model, filename)
        ).fetchone()
    return None if row is None else row["sha256"]


def validate_upload(ctx: Ctx, account: str, model_id: str, config_only: bool) -> dict[str, Any]:
    with ctx.tx() as (db, now):
        row = live(db, account, model_id)
        data = row["data"]
        if data.get("state") == "READY":
            return {"warnings": []}
        files = {
            r["filename"]: r for r in db.execute("SELECT * FROM model_files WHERE model = ?", (row["name"],))
        }
        if not files:
            raise precondition(
                f"model {row['name']!r} has no files; call getUploadEndpoint and upload them first",
                reason="NO_FILES",
            )
        warnings: list[str] = []
        if data.get("kind") in ("HF_PEFT_ADDON", "HF_TEFT_ADDON"):
            warnings += _check_adapter(ctx, files, data, config_only)
        elif "config.json" not in files and not config_only:
            warnings.append("config.json not found")
        missing = [
            f
            for f, r in files.items()
            if not r["uploaded"] and not (config_only and f.endswith((".safetensors", ".bin")))
        ]
        if missing:
            raise precondition(f"file(s) not uploaded: {', '.join(sorted(missing))}", reason="FILES_MISSING")
        data.update(state="READY", updateTime=rfc3339(now))
        update_row(db, "models", row["name"], {"state": "READY", "data": data, "update_time": now})
    return {"warnings": warnings}


def _check_adapter(ctx: Ctx, files: dict[str, Any], data: dict[str, Any], config_only: bool) -> list[str]:
    if "adapter_config.json" not in files:
        raise invalid("adapter_config.json is required for a LoRA model", reason="ADAPTER_CONFIG_MISSING")
    if not config_only and not any(w in files for w in WEIGHT_FILES):
        raise invalid(
            "adapter_model.safetensors (or adapter_model.bin) is required", reason="ADAPTER_WEIGHTS_MISSING"
        )
    if not files["adapter_config.json"]["uploaded"]:
        return []
    path = blob_path(ctx, data["name"], "adapter_config.json")
    try:
        config = json.loads(path.read_bytes()[:MAX_STORED_BYTES])
    except ValueError as exc:
        raise invalid("adapter_config.json is not valid JSON", reason="ADAPTER_CONFIG_INVALID") from exc
    r = config.get("r") if isinstance(config, dict) else None
    if not isinstance(r, int) or not 4 <= r <= 64:
        raise invalid(
            f"adapter_config.json: r must be an integer in 4-64 (got {r!r})", reason="ADAPTER_CONFIG_INVALID"
        )
    modules = config.get("target_modules")
    if isinstance(modules, str):
        modules = [modules]
    if not isinstance(modules, list) or not modules or set(modules) - v.TARGET_MODULES:
        raise invalid(
            f"adapter_config.json: unsupported target_modules {modules!r}", reason="ADAPTER_CONFIG_INVALID"
        )
    peft = data.get("peftDetails") or {}
    warnings = []
    if peft.get("r") != r:
        warnings.append(f"adapter_config.json r={r} differs from peftDetails.r={peft.get('r')}")
    return warnings


def get_download_endpoint(ctx: Ctx, account: str, model_id: str, base_url: str) -> dict[str, Any]:
    with ctx.tx() as (db, _):
        row = live(db, account, model_id)
        if row["data"].get("state") != "READY":
            raise precondition(f"model {row['name']!r} is not READY", reason="MODEL_NOT_READY")
        secret = _secret(ctx, db)
        names = [
            r["filename"]
            for r in db.execute(
                "SELECT filename FROM model_files WHERE model = ? AND uploaded = 1 ORDER BY filename",
                (row["name"],),
            )
        ]
    return {
        "filenameToSignedUrls": {
            f: _url(base_url, "GET", row["name"], f, _sign(secret, "GET", row["name"], f)) for f in names
        }
    }


def get_file(ctx: Ctx, model: str, filename: str, signature: str) -> Path:
    """The path of an uploaded file's bytes (the caller streams it)."""
    with ctx.tx() as (db, _):
        if not hmac.compare_digest(_sign(_secret(ctx, db), "GET", model, filename), signature):
            raise RpcError(7, "invalid download signature")
        row = db.execute(
            "SELECT * FROM model_files WHERE model = ? AND filename = ? AND uploaded = 1", (model, filename)
        ).fetchone()
    path = blob_path(ctx, model, filename)
    if row is None or not path.exists():
        raise not_found("file", f"{model}/{filename}")
    return path
