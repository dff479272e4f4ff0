"""Field validators shared by resources: IDs, resource names, enums, text and numbers."""

from __future__ import annotations

import re
from typing import Any

from lorainfra.emulator.errors import invalid

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MODEL_NAME_RE = re.compile(r"^accounts/([^/]+)/models/([^/#]+)$")
DEPLOYMENT_NAME_RE = re.compile(r"^accounts/([^/]+)/deployments/([^/]+)$")

ACCELERATOR_TYPES = (
    "ACCELERATOR_TYPE_UNSPECIFIED",
    "NVIDIA_A100_80GB",
    "NVIDIA_H100_80GB",
    "AMD_MI300X_192GB",
    "NVIDIA_A10G_24GB",
    "NVIDIA_A100_40GB",
    "NVIDIA_L4_24GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_B200_180GB",
    "NVIDIA_B300_288GB",
    "AMD_MI325X_256GB",
    "AMD_MI350X_288GB",
)
PRECISIONS = (
    "PRECISION_UNSPECIFIED",
    "FP16",
    "FP8",
    "FP8_MM",
    "FP8_AR",
    "FP8_MM_KV_ATTN",
    "FP8_KV",
    "FP8_MM_V2",
    "FP8_V2",
    "FP8_MM_KV_ATTN_V2",
    "NF4",
    "FP4",
    "BF16",
    "FP4_BLOCKSCALED_MM",
    "FP4_MX_MOE",
)
REGIONS = (
    "REGION_UNSPECIFIED",
    "US_IOWA_1",
    "US_VIRGINIA_1",
    "US_VIRGINIA_2",
    "US_ILLINOIS_1",
    "AP_TOKYO_1",
    "EU_LONDON_1",
    "US_ARIZONA_1",
    "US_TEXAS_1",
    "US_ILLINOIS_2",
    "EU_FRANKFURT_1",
    "US_TEXAS_2",
    "EU_PARIS_1",
    "EU_HELSINKI_1",
    "US_NEVADA_1",
    "EU_ICELAND_1",
    "EU_ICELAND_2",
    "US_WASHINGTON_1",
    "US_WASHINGTON_2",
    "EU_ICELAND_DEV_1",
    "US_WASHINGTON_3",
    "US_ARIZONA_2",
    "AP_TOKYO_2",
    "US_CALIFORNIA_1",
    "US_MISSOURI_1",
    "US_UTAH_1",
    "US_TEXAS_3",
    "US_ARIZONA_3",
    "US_GEORGIA_1",
    "US_GEORGIA_2",
    "US_WASHINGTON_4",
    "US_GEORGIA_3",
    "NA_BRITISHCOLUMBIA_1",
    "US_GEORGIA_4",
    "EU_ICELAND_3",
    "US_OHIO_1",
    "US_NEWYORK_1",
)
MULTI_REGIONS = ("MULTI_REGION_UNSPECIFIED", "GLOBAL", "US", "EUROPE", "APAC")
BUCKET_TYPES = ("BUCKET_TYPE_UNSPECIFIED", "MINIO", "S3", "NEBIUS", "FW_HOSTED")
DIRECT_ROUTE_TYPES = (
    "DIRECT_ROUTE_TYPE_UNSPECIFIED",
    "INTERNET",
    "GCP_PRIVATE_SERVICE_CONNECT",
    "AWS_PRIVATELINK",
)
MODEL_KINDS = (
    "KIND_UNSPECIFIED",
    "HF_BASE_MODEL",
    "HF_PEFT_ADDON",
    "HF_TEFT_ADDON",
    "FLUMINA_BASE_MODEL",
    "FLUMINA_ADDON",
    "DRAFT_ADDON",
    "FIRE_AGENT",
    "LIVE_MERGE",
    "CUSTOM_MODEL",
    "EMBEDDING_MODEL",
    "SNAPSHOT_MODEL",
)
CHECKPOINT_FORMATS = ("CHECKPOINT_FORMAT_UNSPECIFIED", "NATIVE", "HUGGINGFACE", "UNINITIALIZED")
SNAPSHOT_TYPES = ("FULL_SNAPSHOT", "INCREMENTAL_SNAPSHOT")
TARGET_MODULES = frozenset(
    {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "up_proj",
        "w1",
        "down_proj",
        "w2",
        "gate_proj",
        "w3",
        "block_sparse_moe.gate",
    }
)


def check_id(value: object, *, what: str, field: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise invalid(
            f"invalid {what} ID {value!r}: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            field=field,
            reason="INVALID_ID",
        )
    return value


def is_peft(model: dict[str, Any]) -> bool:
    """Whether a Model (wire form) is a LoRA: kind HF_PEFT_ADDON (the default), or unspecified with peftDetails."""
    kind = model.get("kind", "HF_PEFT_ADDON")
    return kind == "HF_PEFT_ADDON" or (kind == "KIND_UNSPECIFIED" and "peftDetails" in model)


def check_enum(value: object, allowed: tuple[str, ...], *, field: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise invalid(f"{field}: invalid value {value!r}; expected one of {', '.join(allowed)}", field=field)
    return value


def check_str(value: object, *, field: str, max_len: int | None = None) -> str:
    if not isinstance(value, str):
        raise invalid(f"{field}: expected a string, got {type(value).__name__}", field=field)
    if max_len is not None and len(value) >= max_len:
        raise invalid(f"{field} must be fewer than {max_len} characters (got {len(value)})", field=field)
    return value


def check_bool(value: object, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{field}: expected a boolean, got {value!r}", field=field)
    return value


def check_int(value: object, *, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Accept JSON numbers and (protobuf int64 style) numeric strings."""
    if isinstance(value, bool):
        raise invalid(f"{field}: expected an integer, got {value!r}", field=field)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise invalid(f"{field}: expected an integer, got {value!r}", field=field)
    if minimum is not None and value < minimum:
        raise invalid(f"{field} must be >= {minimum} (got {value})", field=field)
    if maximum is not None and value > maximum:
        raise invalid(f"{field} must be <= {maximum} (got {value})", field=field)
    return value


def check_str_list(value: object, *, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{field}: expected a list of strings", field=field)
    return list(value)


def check_model_name(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not MODEL_NAME_RE.match(value):
        raise invalid(
            f"{field}: expected a model name 'accounts/<account>/models/<model>', got {value!r}", field=field
        )
    return value


def check_deployment_name(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not DEPLOYMENT_NAME_RE.match(value):
        raise invalid(
            f"{field}: expected a deployment name 'accounts/<account>/deployments/<id>', got {value!r}",
            field=field,
        )
    return value


def check_object(value: object, *, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{field}: expected an object", field=field)
    return value


def camel(path: str) -> str:
    """snake_case -> lowerCamelCase for each dotted segment (camelCase input passes through)."""
    out = []
    for seg in path.split("."):
        head, *rest = seg.split("_")
        out.append(head + "".join(p[:1].upper() + p[1:] for p in rest))
    return ".".join(out)
