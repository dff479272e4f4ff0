"""Config test kit: write a config folder from a dict of files, load it, list its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lorainfra.config.loader import load_config
from lorainfra.config.model import Config
from lorainfra.errors import ConfigError

MAIN = "provider:\n  account: quickstart\n  endpoint: local\n"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


class ConfigFolder:
    """Writes config files into a fresh folder and loads it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def write(self, files: dict[str, str | bytes], *, main: str | None = MAIN) -> Path:
        self.count += 1
        folder = self.root / f"cfg{self.count}"
        folder.mkdir()
        if main is not None and "lorainfra.yaml" not in files:
            (folder / "lorainfra.yaml").write_text(main)
        for name, content in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return folder

    def load(self, files: dict[str, str | bytes], **kwargs: str | None) -> Config:
        return load_config(self.write(files, **kwargs))

    def error(self, files: dict[str, str | bytes], **kwargs: str | None) -> ConfigError:
        folder = self.write(files, **kwargs)
        with pytest.raises(ConfigError) as info:
            load_config(folder)
        return info.value

    def errors(self, files: dict[str, str | bytes], **kwargs: str | None) -> list[str]:
        """Each diagnostic as 'file:line:col: message' (hint left out)."""
        return [f"{d.span}: {d.message}" for d in self.error(files, **kwargs).diagnostics]


def node_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of ``node`` and of everything inside it (keys and list indexes), the node itself first."""
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += node_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += node_paths(value, (*path, index))
    return out
