"""Model file upload flow: signed upload URLs, the PUT target, validateUpload and download URLs."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from typing import Any
from urllib.parse import quote

from lorainfra.emulator import validation as v
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import RpcError, invalid, not_found, precondition
from lorainfra.emulator.models import live
from lorainfra.emulator.store import update_row

MAX_STORED_BYTES = 1 << 20  # file contents up to 1 MiB are kept (configs); larger files only by size
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


def put_file(
    ctx: Ctx, model: str, filename: str, signature: str, content: bytes, length_range: str | None
) -> None:
    with ctx.tx() as (db, _):
        if not hmac.compare_digest(_sign(_secret(ctx, db), "PUT", model, filename), signature):
            raise RpcError(7, "invalid upload signature")
        row = db.execute(
            "SELECT size FROM model_files WHERE model = ? AND filename = ?", (model, filename)
        ).fetchone()
        if row is None:
            raise not_found("upload target", f"{model}/{filename}")
        if len(content) != int(row["size"]):
            raise invalid(f"{filename}: got {len(content)} bytes, declared {row['size']}")
        if length_range and length_range.replace(" ", "") != f"{row['size']},{row['size']}":
            raise invalid(f"X-Goog-Content-Length-Range {length_range!r} does not match the declared size")
        stored = content if len(content) <= MAX_STORED_BYTES else None
        db.execute(
            "UPDATE model_files SET uploaded = 1, content = ? WHERE model = ? AND filename = ?",
            (stored, model, filename),
        )


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
            warnings += _check_adapter(files, data, config_only)
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


def _check_adapter(files: dict[str, Any], data: dict[str, Any], config_only: bool) -> list[str]:
    if "adapter_config.json" not in files:
        raise invalid("adapter_config.json is required for a LoRA model", reason="ADAPTER_CONFIG_MISSING")
    if not config_only and not any(w in files for w in WEIGHT_FILES):
        raise invalid(
            "adapter_model.safetensors (or adapter_model.bin) is required", reason="ADAPTER_WEIGHTS_MISSING"
        )
    content = files["adapter_config.json"]["content"]
    if content is None:
        return []
    try:
        config = json.loads(bytes(content))
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


def get_file(ctx: Ctx, model: str, filename: str, signature: str) -> bytes:
    with ctx.tx() as (db, _):
        if not hmac.compare_digest(_sign(_secret(ctx, db), "GET", model, filename), signature):
            raise RpcError(7, "invalid download signature")
        row = db.execute(
            "SELECT * FROM model_files WHERE model = ? AND filename = ? AND uploaded = 1", (model, filename)
        ).fetchone()
    if row is None:
        raise not_found("file", f"{model}/{filename}")
    if row["content"] is None:  # large files are kept by size only
        raise precondition(f"{filename}: contents larger than 1 MiB are not retained by the emulator")
    return bytes(row["content"])
