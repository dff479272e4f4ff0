"""Context: turn a config folder, flags and the environment into a provider and a state backend."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import typer
import yaml

from lorainfra.addresses import valid_id
from lorainfra.cli import upload_bar
from lorainfra.cli.options import load_selected
from lorainfra.config.model import DEFAULT_BASE_URL, DEFAULT_MAX_RPS, LOCAL_ENDPOINT, Config
from lorainfra.config.settings import clean_api_key, parse_endpoint
from lorainfra.errors import SettingsError
from lorainfra.providers.fireworks import FireworksProvider, local_provider
from lorainfra.state.backend import StateBackend
from lorainfra.state.model import State
from lorainfra.state.open import default_who, open_backend

LOCAL_API_KEY = "lorainfra-local"


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. ``api_key`` is never printed (see __repr__)."""

    account: str
    endpoint: str  # "local" or a base URL
    api_key: str
    max_rps: float = DEFAULT_MAX_RPS  # request-rate ceiling toward the API

    def __repr__(self) -> str:
        return f"Settings(account={self.account!r}, endpoint={self.endpoint!r}, api_key=<redacted>)"

    @property
    def is_local(self) -> bool:
        return self.endpoint == LOCAL_ENDPOINT


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_settings(
    config: Config, endpoint_flag: str | None, environ: Mapping[str, str], *, insecure: bool = False,
    max_rps: float = DEFAULT_MAX_RPS,
) -> Settings:
    """Flag > config > environment > default, the way the official SDK reads FIREWORKS_* variables."""
    sources = (("--endpoint", endpoint_flag), ("provider.endpoint", config.provider.endpoint),
               ("FIREWORKS_BASE_URL", environ.get("FIREWORKS_BASE_URL")))
    source, raw = next(((name, value) for name, value in sources if value and value.strip()), ("", DEFAULT_BASE_URL))
    endpoint = parse_endpoint(raw, source or "the default endpoint")
    if endpoint.startswith("http://") and not _is_loopback(endpoint) and not insecure:
        raise SettingsError(
            f"refusing plain http:// endpoint {endpoint}: the API key would travel unencrypted; use https://, "
            "a loopback address, or pass --insecure"
        )
    account = config.provider.account or environ.get("FIREWORKS_ACCOUNT_ID", "")
    if not account:
        raise SettingsError(
            "no Fireworks account: set provider.account in lorainfra.yaml or FIREWORKS_ACCOUNT_ID"
        )
    if not valid_id(account):
        raise SettingsError(f"account {account!r} is not a valid Fireworks account ID")
    api_key = clean_api_key(environ.get("FIREWORKS_API_KEY", ""))
    if not api_key:
        if endpoint != LOCAL_ENDPOINT:
            raise SettingsError(
                f"FIREWORKS_API_KEY is not set: export your Fireworks API key to talk to {endpoint}"
            )
        api_key = LOCAL_API_KEY
    return Settings(account=account, endpoint=endpoint, api_key=api_key, max_rps=max_rps)


class ProviderSession(AbstractAsyncContextManager[FireworksProvider]):
    """Opens the provider (and, for ``endpoint: local``, the embedded emulator) for one command."""

    def __init__(self, config: Config, settings: Settings, **provider_kwargs: Any) -> None:
        self.config = config
        self.settings = settings
        # uploads show a byte bar on a terminal, a line every 5 s otherwise (on stderr, beside the apply's events)
        self._uploads = upload_bar.for_stream(sys.stderr)
        self.provider_kwargs = {"max_rps": settings.max_rps, "upload_progress": self._uploads,
                                "files_root": config.root, **provider_kwargs}
        self._provider: FireworksProvider | None = None
        self._emulator: Any = None

    async def __aenter__(self) -> FireworksProvider:
        s = self.settings
        if s.is_local:
            from lorainfra.emulator import Emulator, EmulatorOptions
            from lorainfra.emulator.server import load_seed_file

            emu = self.config.provider.emulator
            seed: tuple[dict[str, Any], ...] = ()
            if emu.seed:
                try:
                    seed = load_seed_file(str(Path(self.config.root) / emu.seed))
                except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
                    raise SettingsError(f"provider.emulator.seed: cannot read {emu.seed}: {exc}") from exc
            db = Path(self.config.root) / ".lorainfra" / "emulator.db"
            db.parent.mkdir(parents=True, exist_ok=True)
            self._emulator = Emulator(
                db,
                EmulatorOptions(
                    ready_after=emu.ready_after, deployed_after=emu.deployed_after, delete_after=emu.delete_after,
                    seed_models=seed,
                ),
            )
            # the embedded emulator is no shared account: no request budget to protect
            self._provider = local_provider(
                self._emulator.app, account=s.account, api_key=s.api_key, **{**self.provider_kwargs, "max_rps": 0}
            )
        else:
            self._provider = FireworksProvider(
                account=s.account, api_key=s.api_key, base_url=s.endpoint, **self.provider_kwargs
            )
        return self._provider

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._uploads.close()
        if self._provider is not None:
            await self._provider.aclose()
        if self._emulator is not None:
            self._emulator.close()


@dataclass(frozen=True)
class Workspace:
    """A loaded config folder with its settings and state backend."""

    config: Config
    settings: Settings
    backend: StateBackend

    def provider(self, **kwargs: Any) -> ProviderSession:
        return ProviderSession(self.config, self.settings, **kwargs)

    def read_state(self) -> State:
        """The state as stored, or a new one when nothing was applied yet."""
        return self.backend.read() or State.new()


def print_warnings(config: Config) -> None:
    """Config warnings go to stderr (never into --json output); they do not stop the command."""
    for warning in config.warnings:
        sys.stderr.write(warning.render() + "\n")


def open_workspace(
    directory: str, endpoint_flag: str | None, environ: Mapping[str, str] | None = None, *, insecure: bool = False,
    max_rps: float = DEFAULT_MAX_RPS, ctx: typer.Context | None = None,
) -> Workspace:
    """The config (for the environment ``ctx``'s --env/--var or LORAINFRA_ENV select), settings and backend."""
    env = os.environ if environ is None else environ
    config = load_selected(ctx, directory, env)
    print_warnings(config)
    return workspace_for(config, endpoint_flag, env, insecure=insecure, max_rps=max_rps)


def workspace_for(config: Config, endpoint_flag: str | None, environ: Mapping[str, str], *, insecure: bool = False,
                  max_rps: float = DEFAULT_MAX_RPS) -> Workspace:
    """The settings and state backend of a loaded ``config``."""
    settings = resolve_settings(config, endpoint_flag, environ, insecure=insecure, max_rps=max_rps)
    backend = open_backend(config.state, Path(config.root), environ=environ, who=default_who())
    return Workspace(config, settings, backend)
