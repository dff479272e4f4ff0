"""Environments: which environment a run is for (``--env``), its account, its state and its variable values.

``lorainfra.yaml`` may declare ``environments:`` (each with ``account``, ``state`` and ``vars``) and
``variables:`` (each with ``type``, ``default``, ``description``). A folder that declares environments
refuses to run without one selected; each environment gets its own state (and so its own lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lorainfra.config.hints import did_you_mean, join_hint, short
from lorainfra.config.model import ProviderSettings, StateSettings
from lorainfra.config.yamlsource import Document
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping

ENV_VAR = "LORAINFRA_ENV"
VAR_TYPES = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class Selection:
    """What the command line chose: the environment (``--env``/LORAINFRA_ENV) and ``--var NAME=VALUE`` values."""

    env: str | None = None
    vars: Mapping[str, str] = field(default_factory=frozen_mapping)


def parse_var_flags(values: list[str] | None) -> dict[str, str]:
    """``--var NAME=VALUE`` flags as a mapping; ValueError names the flag that has no '='."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--var {value!r} must be NAME=VALUE")
        out[name.strip()] = text
    return out


def _section(doc: Document, key: str) -> dict[str, Any]:
    data = doc.data.get(key) if isinstance(doc.data, dict) else None
    return data if isinstance(data, dict) else {}


def declared(main: Document) -> list[str]:
    """The environment names ``lorainfra.yaml`` declares, in file order."""
    return list(_section(main, "environments"))


def check_selection(main: Document, selection: Selection) -> list[Diagnostic]:
    """An environment is selected iff the folder declares environments, and it is one of them."""
    names = declared(main)
    if not names:
        if selection.env is not None:
            return [Diagnostic(Span(main.file, 1, 1), f"--env {selection.env} was given but {main.file} declares "
                               "no environments", f"remove --env (and {ENV_VAR}), or add an environments: section")]
        return []
    where = main.key_span(("environments",))
    if selection.env is None:
        return [Diagnostic(where, f"this folder declares environments ({', '.join(names)}); choose one",
                           f"pass --env NAME (or set {ENV_VAR}=NAME), e.g. --env {names[0]}")]
    if selection.env not in names:
        return [Diagnostic(where, f"unknown environment {short(selection.env)}",
                           join_hint(did_you_mean(selection.env, names), f"declared: {', '.join(names)}"))]
    return []


def _env_state(main: Document, env: str) -> dict[str, Any]:
    body = _section(main, "environments").get(env)
    state = body.get("state") if isinstance(body, dict) else None
    return state if isinstance(state, dict) else {}


def check_states(main: Document) -> list[Diagnostic]:
    """Every environment has its own state: no shared state.path, no two environments on one path/workspace."""
    names = declared(main)
    if not names:
        return []
    out: list[Diagnostic] = []
    top = _section(main, "state")
    if "path" in top:
        inherit = [n for n in names if "path" not in _env_state(main, n)]
        if inherit:
            out.append(Diagnostic(main.key_span(("state", "path")), "state.path would be shared by the environments "
                                  f"{', '.join(inherit)}: each environment needs its own state",
                                  "remove state.path (each environment then gets .lorainfra/workspaces/NAME/), or "
                                  "set environments.NAME.state.path for each"))
    seen: dict[tuple[str, str], str] = {}
    for name in names:
        state = _env_state(main, name)
        key = ("path", str(state["path"])) if "path" in state else ("workspace", str(state.get("workspace", name)))
        if key in seen:
            span = main.span(("environments", name, "state", key[0])) if key[0] in state else \
                main.key_span(("environments", name))
            out.append(Diagnostic(span, f"environments {seen[key]} and {name} share the state {key[0]} "
                                  f"{short(key[1])}", "give each environment its own state"))
        else:
            seen[key] = name
    return out


def provider_for(provider: ProviderSettings, main: Document, env: str | None) -> ProviderSettings:
    """The provider settings with the environment's account, if it sets one."""
    if env is None:
        return provider
    body = _section(main, "environments").get(env)
    account = body.get("account") if isinstance(body, dict) else None
    return replace(provider, account=account) if isinstance(account, str) else provider


def state_for(state: StateSettings, main: Document, env: str | None) -> StateSettings:
    """The state settings of the environment: its own path, else its own workspace (named after it)."""
    if env is None:
        return state
    own = _env_state(main, env)
    if "path" in own:
        return replace(state, path=str(own["path"]), workspace=str(own.get("workspace", state.workspace)))
    return replace(state, path=None, workspace=str(own.get("workspace", env)))
