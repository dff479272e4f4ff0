"""Overlay: the files under ``env/NAME/`` merged onto the shared files for environment NAME.

Rules (docs/config.md, "Overlays"): an overlay names resources the shared files declare, under the same
``deployments:``/``loras:`` sections. Mappings merge key by key (deep); scalars and lists replace; ``null``
removes the key (or, for a whole resource, removes the resource from this environment). A value set by an
overlay keeps the overlay's file:line, so errors about it point at the overlay.
"""

from __future__ import annotations

import copy
from typing import Any

from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Diagnostic

OVERLAY_DIR = "env"
OVERLAY_SECTIONS_NOTE = "an overlay holds deployments: and loras: entries (and x-... keys for anchors)"


def _drop_spans(doc: Document, path: YamlPath) -> None:
    for table in (doc.value_spans, doc.key_spans):
        for key in [k for k in table if k[: len(path)] == path and len(k) > len(path)]:
            del table[key]


def _copy_spans(target: Document, source: Document, path: YamlPath) -> None:
    for mine, theirs in ((target.value_spans, source.value_spans), (target.key_spans, source.key_spans)):
        for key, span in theirs.items():
            if key[: len(path)] == path:
                mine[key] = span


def _merge(target: Document, node: dict[str, Any], source: Document, path: YamlPath, value: Any) -> None:
    """Merge ``value`` (at ``path`` in ``source``) into ``node``, the mapping at ``path[:-1]`` in ``target``."""
    key = str(path[-1])
    if value is None:
        node.pop(key, None)
        _drop_spans(target, path)
        target.value_spans.pop(path, None)
        target.key_spans.pop(path, None)
        return
    current = node.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        target.value_spans.setdefault(path, source.span(path))
        for child_key, child in value.items():
            _merge(target, current, source, (*path, child_key), child)
        return
    node[key] = copy.deepcopy(value)
    _drop_spans(target, path)
    target.value_spans[path] = source.span(path)
    target.key_spans[path] = source.key_span(path)
    _copy_spans(target, source, path)


def apply_overlays(docs: list[Document], overlays: list[Document], sections: tuple[str, ...]) -> list[Diagnostic]:
    """Merge every overlay into ``docs`` (in place, in order); diagnostics for what cannot be merged."""
    out: list[Diagnostic] = []
    for overlay in overlays:
        data = overlay.data
        if data is None:
            continue
        if not isinstance(data, dict):
            out.append(Diagnostic(overlay.span(()), f"the top level of {overlay.file} must be a mapping",
                                  OVERLAY_SECTIONS_NOTE))
            continue
        for top, bodies in data.items():
            if str(top).startswith("x-"):
                continue
            if top not in sections:
                out.append(Diagnostic(overlay.key_span((top,)), f"{top}: is not allowed in an overlay ({overlay.file})",
                                      OVERLAY_SECTIONS_NOTE + "; environment settings go under environments: in "
                                      "lorainfra.yaml"))
                continue
            if not isinstance(bodies, dict):
                if bodies is not None:
                    out.append(Diagnostic(overlay.span((top,)), f"{top}: in {overlay.file} must be a mapping of "
                                          "names", "write the resources' names under it"))
                continue
            for name, body in bodies.items():
                holder = next((d for d in docs if isinstance(d.data, dict) and isinstance(d.data.get(top), dict)
                               and name in d.data[top]), None)
                if holder is None:
                    out.append(Diagnostic(overlay.key_span((top, name)), f"the overlay {overlay.file} changes "
                                          f"{top}.{name}, which no shared file declares",
                                          "declare it in a shared file (an overlay only changes or removes what "
                                          "the shared files declare), or fix the name"))
                    continue
                section = holder.data[top]
                _merge(holder, section, overlay, (top, name), body)
    return out
