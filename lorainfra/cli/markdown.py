"""Markdown: plans and drift reports for pull-request comments and $GITHUB_STEP_SUMMARY (pure)."""

from __future__ import annotations

from lorainfra.cli.render import fmt, render_change, summary_line
from lorainfra.plan.model import Action, DriftItem, Plan

LIMIT = 60_000


def _diff_line(line: str) -> str:
    """Move a plan line's symbol to column 0 so a ```diff block colours it (+ green, - red, ! changed)."""
    stripped = line.lstrip()
    for symbol, mark in (("-/+", "!"), ("+/-", "!"), ("+", "+"), ("-", "-"), ("~", "!")):
        if stripped.startswith(symbol + " "):
            indent = len(line) - len(stripped)
            return mark + " " * max(indent + len(symbol) + 1 - len(mark), 1) + stripped[len(symbol) + 1:]
    return line


def _cut(sections: list[str], head: str, limit: int) -> str:
    out = head
    for i, section in enumerate(sections):
        if len(out) + len(section) > limit - 300:
            rest = len(sections) - i
            out += (f"\n> **Output cut at {limit:,} characters:** {rest} more section(s) not shown. "
                    "Run `lorainfra plan` (or `show PLANFILE`) locally for the full text.\n")
            return out
        out += section
    return out


def _drift_table(items: tuple[DriftItem, ...]) -> str:
    if not items:
        return ""
    rows = ["| resource | attribute | expected (last applied) | live |", "|---|---|---|---|"]
    for d in items:
        if d.kind == "vanished":
            rows.append(f"| `{d.address}` | *(whole object)* | exists | **vanished** |")
        else:
            rows.append(f"| `{d.address}` | `{d.attribute}` | `{fmt(d.expected)}` | `{fmt(d.live)}` |")
    return "\n".join(rows) + "\n"


def plan_markdown(plan: Plan, *, title: str = "lorainfra plan", limit: int = LIMIT) -> str:
    c = plan.counts()
    head = f"## {title}\n\n**{summary_line(plan)}**\n\n"
    if plan.targets:
        head += f"> **Warning:** resource targeting is in effect ({', '.join(f'`{t}`' for t in plan.targets)}): " \
                "only these resources and what they depend on are planned.\n\n"
    if plan.lock is not None:
        busy = ", ".join(f"`{address}` ({operation})" for address, operation in plan.in_flight) or "nothing recorded yet"
        head += f"> **Warning:** the state is locked by {plan.lock.who} since {plan.lock.created} for " \
                f"'{plan.lock.operation}'. Being changed by it (not drift): {busy}.\n\n"
    if plan.has_changes:
        head += f"| add | change | destroy | drift | not managed |\n|---|---|---|---|---|\n" \
                f"| {c['add']} | {c['change']} | {c['destroy']} | {len(plan.drift)} | {len(plan.unmanaged)} |\n\n"
    if plan.drift:
        head += "### Drift (changed outside lorainfra)\n\n" + _drift_table(plan.drift) + "\n"
    sections = []
    for change in plan.actionable:
        verb = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "replace",
                Action.DELETE: "destroy"}[change.action]
        body = "\n".join(_diff_line(line) for line in render_change(change))
        sections.append(f"<details><summary><code>{change.address}</code>: {verb}</summary>\n\n```diff\n{body}\n```\n</details>\n\n")
    if plan.unmanaged:
        listed = "\n".join(f"- `{n}`" for n in plan.unmanaged)
        sections.append(f"### Not managed by lorainfra (left alone)\n\n{listed}\n")
    return _cut(sections, head, limit)


def drift_markdown(items: tuple[DriftItem, ...], *, limit: int = LIMIT) -> str:
    if not items:
        return "## lorainfra drift\n\n**No drift.** Live objects match what lorainfra last applied.\n"
    head = f"## lorainfra drift\n\n**{len(items)} change(s) made outside lorainfra.**\n\n"
    return _cut([_drift_table(items)], head, limit)
