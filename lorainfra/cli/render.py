"""Render: plans and drift as Terraform-style text (pure functions returning strings)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lorainfra.plan.model import Action, Change, DriftItem, Plan
from lorainfra.state.backend import LockInfo

_HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
}


def fmt(value: Any) -> str:
    """A value as it appears in a plan (JSON-ish, stable)."""
    if value is None:
        return "(known after apply)"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Mapping):
        value = dict(value)
    return json.dumps(value, sort_keys=True)


def _body(change: Change) -> list[str]:
    lines: list[str] = []
    if change.action is Action.CREATE:
        after = change.after or {}
        width = max((len(k) for k in after), default=0)
        lines += [f"      + {k.ljust(width)} = {fmt(v)}" for k, v in sorted(after.items())]
    elif change.action is Action.DELETE:
        before = change.before or {}
        width = max((len(k) for k in before), default=0)
        lines += [f"      - {k.ljust(width)} = {fmt(v)}" for k, v in sorted(before.items())]
    else:
        width = max((len(a.name) for a in change.attributes), default=0)
        for a in change.attributes:
            if a.kept:
                lines.append(f"      # {a.name}: removed from config; Fireworks cannot reset it, the live value "
                             f"{fmt(a.before)} stays")
                continue
            note = " # forces replacement" if a.forces_replacement else ""
            shown = "(server default)" if a.reset else fmt(a.after)
            lines.append(f"      ~ {a.name.ljust(width)} = {fmt(a.before)} -> {shown}{note}")
    return lines


def render_change(change: Change) -> list[str]:
    kind, name = change.address.split(".", 1)
    headline = f"  # {change.address} {_HEADLINE[change.action]}"
    if change.reason:
        headline += f" ({change.reason})"
    symbol = change.symbol
    lines = [headline]
    if change.action is Action.REPLACE and change.create_first:
        lines.append("    # create before destroy: the new one is created and ready before the old one is deleted (no gap)")
    elif change.gap:
        lines.append(f"    # {change.gap}")
    lines.append(f"{symbol.rjust(3)} {kind} \"{name}\" {{")
    lines += _body(change)
    lines.append("    }")
    return lines


def render_drift(items: tuple[DriftItem, ...]) -> list[str]:
    if not items:
        return []
    lines = ["Objects changed outside lorainfra (drift):", ""]
    for item in items:
        if item.kind == "vanished":
            lines.append(f"  ! {item.address}: vanished from the account ({item.expected})")
        else:
            lines.append(f"  ! {item.address}: {item.attribute} was {fmt(item.expected)}, is now {fmt(item.live)}")
    lines.append("")
    return lines


def lock_banner(lock: LockInfo | None, in_flight: tuple[tuple[str, str], ...]) -> list[str]:
    """What a plan or drift says while another run holds the state lock: who, since when, and what it is
    changing (its in-flight changes are not drift)."""
    if lock is None:
        return []
    lines = [f"Warning: the state is locked by {lock.who} since {lock.created} for {lock.operation!r} (lock {lock.id}).",
             "  That run is changing resources now; its changes are not drift. Plan again once it has finished."]
    lines += [f"  ~ {address}: being changed by {lock.who} ({operation} in flight)" for address, operation in in_flight]
    return [*lines, ""]


def summary_line(plan: Plan) -> str:
    if plan.refresh_only:
        if not plan.drift:
            return "No changes. The state matches the live objects (refresh-only: nothing to accept)."
        n = len({d.address for d in plan.drift})
        return (f"Refresh-only plan: {n} resource{'s' if n != 1 else ''} changed outside lorainfra; applying it "
                "accepts the live values into the state and changes no live object.")
    if not plan.has_changes:
        return "No changes. Your infrastructure matches the configuration."
    c = plan.counts()
    return f"Plan: {c['add']} to add, {c['change']} to change, {c['destroy']} to destroy."


def target_banner(plan: Plan) -> list[str]:
    """The warning every targeted plan carries (also when shown from a saved plan)."""
    if not plan.targets:
        return []
    return [f"Warning: resource targeting is in effect: {', '.join(plan.targets)}",
            "  Only these resources and what they depend on are planned; other changes are not shown",
            "  and not applied. Run a plan without --target afterwards to see the whole picture.", ""]


def render_plan(plan: Plan) -> str:
    lines: list[str] = target_banner(plan) + lock_banner(plan.lock, plan.in_flight)
    lines += render_drift(plan.drift)
    if plan.unmanaged:
        lines.append(f"Not managed by lorainfra (left alone): {len(plan.unmanaged)}")
        lines += [f"    {name}" for name in plan.unmanaged[:20]]
        if len(plan.unmanaged) > 20:
            lines.append(f"    ... and {len(plan.unmanaged) - 20} more")
        lines.append("")
    actionable = plan.actionable
    if actionable:
        lines.append("lorainfra will perform the following actions:")
        lines.append("")
        for change in actionable:
            lines += render_change(change)
            lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"
