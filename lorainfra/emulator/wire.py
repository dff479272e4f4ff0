"""Response bodies: the one JSON encoding of the emulator's answers, and list pages spliced from stored rows.

Rows keep each resource's wire object as compact JSON with sorted keys (``store._encode``), which is
what encoding the decoded object gives again, so a list page can splice the stored texts into the
response without parsing them: a page of 200 deployed models was 200 ``json.loads`` and a re-encode.
Texts whose re-encoding could differ (``\\u`` escapes: the store escapes non-ASCII, responses do not;
``NaN``/``Infinity``, which responses refuse) take the parse-and-encode path, so every body is
byte-for-byte what encoding the decoded objects gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorainfra.emulator.paging import apply_read_mask


def dumps(obj: Any) -> str:
    """How every emulator response body is encoded (starlette's JSONResponse encoding)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


@dataclass(frozen=True)
class Rendered:
    """A response body already encoded (the app sends it as application/json)."""

    body: bytes


_REENCODE = ("\\u", "NaN", "Infinity")  # stored texts that encoding the decoded object could change


def _item(stored: str, mask: str) -> str:
    if mask or any(marker in stored for marker in _REENCODE):
        return dumps(apply_read_mask(json.loads(stored), mask))
    return stored


def list_page(key: str, stored: Sequence[str], next_token: str, total: int, mask: str = "") -> Rendered:
    """``{key: [...], "nextPageToken": ..., "totalSize": ...}`` from the stored JSON texts of the page's items."""
    mask = "" if mask.strip() in ("", "*") else mask
    items = "" if mask else ",".join(stored)
    if mask or any(marker in items for marker in _REENCODE):  # checked once per page, then per item
        items = ",".join(_item(text, mask) for text in stored)
    body = f"{{{dumps(key)}:[{items}],\"nextPageToken\":{dumps(next_token)},\"totalSize\":{int(total)}}}"
    return Rendered(body.encode("utf-8"))
