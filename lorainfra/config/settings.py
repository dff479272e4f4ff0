"""Settings: the provider: and state: sections of lorainfra.yaml, checked and turned into settings values."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from lorainfra.config.durations import parse_duration, schema_rejects
from lorainfra.config.hints import short
from lorainfra.config.model import LOCAL_ENDPOINT, EmulatorSettings, Limits, ProviderSettings, StateSettings
from lorainfra.config.yamlsource import Document
from lorainfra.errors import Diagnostic, SettingsError, Span, redact

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMULATOR_KEYS = ("ready_after", "deployed_after", "delete_after")


def _section(doc: Document, key: str) -> dict[str, Any]:
    data = doc.data.get(key) if isinstance(doc.data, dict) else None
    return data if isinstance(data, dict) else {}


def endpoint_problem(value: str) -> tuple[str, str] | None:
    """What is wrong with an endpoint value, as (``must ...`` sentence, hint), or None if it is usable.

    The one endpoint rule, for provider.endpoint, --endpoint and FIREWORKS_BASE_URL alike. Never quotes a
    password: values are shown redacted.
    """
    if value == LOCAL_ENDPOINT:
        return None
    shown = short(redact(value))
    fix = "use 'local' for the embedded emulator, or e.g. https://api.fireworks.ai"
    if not value.isprintable() or " " in value:
        return f"must be 'local' or an http(s):// URL, not {shown}", fix
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            return f"must have a port from 1 to 65535, not {shown}", fix
        return f"must be a valid URL, not {shown} ({exc})", fix
    if parts.scheme not in ("http", "https"):
        return f"must be 'local' or an http(s):// URL, not {shown}", fix
    if parts.username or parts.password or "@" in parts.netloc:
        return ("must not contain credentials",
                "remove the user:password@ part; the API key comes from FIREWORKS_API_KEY (rotate the password "
                "if it was committed or logged)")
    if not parts.hostname:
        return f"must be 'local' or an http(s):// URL with a host, not {shown}", fix
    if port == 0:
        return f"must have a port from 1 to 65535, not {shown}", fix
    if parts.query or parts.fragment:
        return "must not have a query or fragment", "remove the ?... or #... part"
    if parts.path.rstrip("/").endswith("/v1"):
        return "must not end in /v1", f"lorainfra adds /v1 itself; write {value.rstrip('/')[: -len('/v1')]}"
    return None


def check_endpoint(value: str, span: Span) -> list[Diagnostic]:
    problem = endpoint_problem(value)
    return [] if problem is None else [Diagnostic(span, f"provider.endpoint {problem[0]}", problem[1])]


def parse_endpoint(value: str, source: str) -> str:
    """A checked endpoint ('local' or a base URL without a trailing /) from ``source`` (e.g. ``--endpoint``)."""
    endpoint = value.strip()
    problem = endpoint_problem(endpoint)
    if problem is not None:
        raise SettingsError(f"{source} {problem[0]}; {problem[1]}")
    return endpoint.rstrip("/")


def clean_api_key(value: str, source: str = "FIREWORKS_API_KEY") -> str:
    """The API key without surrounding whitespace (as read from a file or a secret); other characters that
    cannot travel in an HTTP header are refused without showing the key."""
    key = value.strip()
    for index, char in enumerate(key):
        if not ("!" <= char <= "~"):
            kind = "a space" if char == " " else "a control character" if char.isascii() else "a non-ASCII character"
            raise SettingsError(
                f"{source} has {kind} at position {index + 1} of {len(key)}: an API key is printable ASCII "
                "without spaces; copy it again from the Fireworks console (the key is not shown here)"
            )
    return key


def check_provider(doc: Document) -> list[Diagnostic]:
    provider = _section(doc, "provider")
    out: list[Diagnostic] = []
    endpoint = provider.get("endpoint")
    if isinstance(endpoint, str):
        out += check_endpoint(endpoint, doc.span(("provider", "endpoint")))
    if "emulator" in provider and isinstance(endpoint, str) and endpoint != LOCAL_ENDPOINT:
        out.append(Diagnostic(doc.key_span(("provider", "emulator")),
                              "provider.emulator applies only to endpoint: local",
                              "remove provider.emulator, or set endpoint: local"))
    emulator = provider.get("emulator")
    if isinstance(emulator, dict):
        seed = emulator.get("seed")
        if isinstance(seed, str) and not os.path.dirname(os.path.normpath(seed)) and seed.endswith((".yaml", ".yml")):
            out.append(Diagnostic(doc.span(("provider", "emulator", "seed")),
                                  f"the emulator seed file {short(seed)} would be read as a config file",
                                  "every *.yaml/*.yml directly in the config folder is config; move the seed "
                                  "file to a subfolder (e.g. seeds/models.yaml) or save it as .json"))
        for key in _EMULATOR_KEYS:
            value = emulator.get(key)
            if key in emulator and not schema_rejects(value):
                try:
                    parse_duration(value)
                except ValueError as exc:
                    out.append(Diagnostic(doc.span(("provider", "emulator", key)), f"provider.emulator.{key}: {exc}",
                                          "write a number of seconds or a duration like 2s"))
    return out


def check_state(doc: Document) -> list[Diagnostic]:
    state = _section(doc, "state")
    out: list[Diagnostic] = []
    backend = state.get("backend", "local")
    if backend not in ("local", "postgres"):
        return out  # the schema reported it
    only = {"path": "local", "dsn_env": "postgres", "workspace": "postgres"}
    for key, owner in only.items():
        if key in state and owner != backend:
            out.append(Diagnostic(doc.key_span(("state", key)), f"state.{key} applies only to backend: {owner}",
                                  f"remove state.{key}, or set backend: {owner}"))
    if backend == "postgres" and "dsn_env" not in state:
        where = doc.key_span(("state", "backend")) if "backend" in state else doc.key_span(("state",))
        out.append(Diagnostic(where, "the postgres backend needs state.dsn_env",
                              "add dsn_env: LORAINFRA_PG_DSN and put the DSN in that environment variable"))
    dsn_env = state.get("dsn_env")
    if isinstance(dsn_env, str) and dsn_env and not ENV_NAME_RE.match(dsn_env):
        looks_like_dsn = any(mark in dsn_env for mark in ("://", "@", "=", " "))
        # never echo the value: it may be a DSN holding a password
        out.append(Diagnostic(
            doc.span(("state", "dsn_env")),
            "state.dsn_env looks like a DSN or URL; it must name an environment variable"
            if looks_like_dsn else "state.dsn_env is not a valid environment variable name",
            "never put the DSN in the config: export it, e.g. LORAINFRA_PG_DSN=postgresql://..., and write "
            "dsn_env: LORAINFRA_PG_DSN" + ("; rotate the password if this file was committed" if looks_like_dsn else ""),
        ))
    return out


def provider_settings(doc: Document) -> ProviderSettings:
    """ProviderSettings from a valid lorainfra.yaml."""
    provider = _section(doc, "provider")
    emulator: dict[str, Any] = provider["emulator"] if isinstance(provider.get("emulator"), dict) else {}
    knobs = {key: parse_duration(emulator[key]) for key in _EMULATOR_KEYS if key in emulator}
    return ProviderSettings(
        account=provider.get("account"),
        endpoint=provider.get("endpoint"),
        emulator=EmulatorSettings(**knobs, seed=emulator.get("seed")),
        span=doc.key_span(("provider",)),
        limits=limits(doc),
    )


def limits(doc: Document | None) -> Limits:
    """provider.limits (the defaults for what is absent or not a positive integer: the schema reported it)."""
    given = _section(doc, "provider").get("limits") if doc is not None else None
    values = {key: value for key, value in (given.items() if isinstance(given, dict) else ())
              if key in ("serverless_per_base_model", "serverless") and type(value) is int and value >= 1}
    return Limits(**values)


def state_settings(doc: Document) -> StateSettings:
    """StateSettings from a valid lorainfra.yaml."""
    state = _section(doc, "state")
    return StateSettings(
        backend=state.get("backend", "local"),
        path=state.get("path"),
        dsn_env=state.get("dsn_env"),
        workspace=state.get("workspace", "default"),
    )
