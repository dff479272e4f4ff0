"""Built-in model catalog: public base models under accounts/fireworks and quickstart LoRA addons."""

from __future__ import annotations

from typing import Any

FIREWORKS = "accounts/fireworks/models"
LLAMA_8B = f"{FIREWORKS}/llama-v3p1-8b-instruct"
LLAMA_70B = f"{FIREWORKS}/llama-v3p1-70b-instruct"
QWEN_7B = f"{FIREWORKS}/qwen2p5-7b-instruct"
MIXTRAL = f"{FIREWORKS}/mixtral-8x7b-instruct"
DEEPSEEK = f"{FIREWORKS}/deepseek-v3"
GLM_FLASH = f"{FIREWORKS}/glm-5p3-flash"

_ALL_PRECISIONS = ["FP16", "FP8", "BF16"]


def _base(
    name: str,
    display: str,
    *,
    params: int,
    model_type: str,
    supports_lora: bool = True,
    serverless: bool = False,
    context: int = 131072,
    moe: bool = False,
    world_size: int = 1,
) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "description": f"{display} (emulated public base model)",
        "kind": "HF_BASE_MODEL",
        "state": "READY",
        "status": {"code": "OK", "message": ""},
        "public": True,
        "contextLength": context,
        "supportsLora": supports_lora,
        "supportsServerless": serverless,
        "supportsTools": True,
        "supportsImageInput": False,
        "tunable": supports_lora,
        "calibrated": True,
        "supportedPrecisions": list(_ALL_PRECISIONS),
        "huggingFaceUrl": f"https://huggingface.co/emulated/{name.rsplit('/', 1)[1]}",
        "conversationConfig": {"style": "jinja"},
        "baseModelDetails": {
            "checkpointFormat": "HUGGINGFACE",
            "worldSize": world_size,
            "parameterCount": str(params),
            "moe": moe,
            "tunable": supports_lora,
            "modelType": model_type,
            "supportsFireattention": True,
            "defaultPrecision": "FP8",
        },
    }


def _lora(name: str, display: str, base: str, *, r: int = 16) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "description": f"{display} (emulated quickstart LoRA addon)",
        "kind": "HF_PEFT_ADDON",
        "state": "READY",
        "status": {"code": "OK", "message": ""},
        "public": True,
        "peftDetails": {
            "baseModel": base,
            "r": r,
            "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj"],
            "baseModelType": "llama" if "llama" in base else "glm",
        },
    }


def builtin_models() -> list[dict[str, Any]]:
    """Every built-in Model in wire format (fresh copies)."""
    return [
        _base(LLAMA_8B, "Llama 3.1 8B Instruct", params=8_030_000_000, model_type="llama"),
        _base(LLAMA_70B, "Llama 3.1 70B Instruct", params=70_550_000_000, model_type="llama", world_size=4),
        _base(QWEN_7B, "Qwen2.5 7B Instruct", params=7_620_000_000, model_type="qwen2"),
        _base(
            MIXTRAL,
            "Mixtral 8x7B Instruct",
            params=46_700_000_000,
            model_type="mixtral",
            moe=True,
            world_size=2,
        ),
        _base(
            DEEPSEEK,
            "DeepSeek V3",
            params=671_000_000_000,
            model_type="deepseek_v3",
            supports_lora=False,
            moe=True,
            world_size=8,
        ),
        _base(GLM_FLASH, "GLM 5.3 Flash", params=30_000_000_000, model_type="glm", serverless=True, moe=True),
        _lora("accounts/quickstart/models/support-bot-v3", "Support bot v3", LLAMA_8B),
        _lora("accounts/quickstart/models/faq-bot-v1", "FAQ bot v1", LLAMA_8B, r=8),
        _lora("accounts/quickstart/models/sql-helper-v2", "SQL helper v2", LLAMA_8B, r=32),
        _lora("accounts/quickstart/models/summarizer-v1", "Summarizer v1", GLM_FLASH, r=16),
    ]
