"""Markdown plans for PR comments: diff-coloured lines, summary first, cut at the limit with a note."""

from __future__ import annotations

from lorainfra.cli.markdown import LIMIT, drift_markdown, plan_markdown
from lorainfra.config.model import frozen_mapping
from lorainfra.plan.model import Action, AttributeChange, Change, DriftItem, Plan


def creates(n: int) -> Plan:
    after = frozen_mapping({"base_model": "accounts/fireworks/models/m", "display_name": "x" * 60})
    return Plan(changes=tuple(Change(f"deployment.d{i:05d}", "deployment", Action.CREATE, after=after)
                              for i in range(n)))


def test_summary_first_and_symbols_in_column_zero() -> None:
    plan = Plan(changes=(
        Change("deployment.a", "deployment", Action.UPDATE,
               (AttributeChange("min_replica_count", 1, 2),), before={}, after={}),
        Change("deployment.b", "deployment", Action.REPLACE,
               (AttributeChange("base_model", "m1", "m2", True),), before={}, after={}),
    ))
    text = plan_markdown(plan)
    assert text.startswith("## lorainfra plan\n\n**Plan: 1 to add, 1 to change, 1 to destroy.**")
    assert '\n!   deployment "a" {\n!       min_replica_count = 1 -> 2\n' in text
    assert '\n!   deployment "b" {\n!       base_model = "m1" -> "m2" # forces replacement\n' in text


def test_cut_at_the_limit_with_a_note_saying_what_was_left_out() -> None:
    text = plan_markdown(creates(2000))
    assert len(text) <= LIMIT
    assert "**Output cut at 60,000 characters:**" in text
    shown = text.count("<details>")
    assert f"{2000 - shown} more section(s) not shown" in text
    assert text.index("Plan: 2000 to add") < text.index("<details>")


def test_small_plan_is_not_cut() -> None:
    assert "Output cut" not in plan_markdown(creates(3))


def test_drift_markdown() -> None:
    assert "**No drift.**" in drift_markdown(())
    text = drift_markdown((DriftItem("deployment.a", "changed", "display_name", "x", "y"),
                           DriftItem("lora.b", "vanished")))
    assert '| `deployment.a` | `display_name` | `"x"` | `"y"` |' in text
    assert "| `lora.b` | *(whole object)* | exists | **vanished** |" in text
