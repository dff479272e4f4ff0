"""Lifecycle rules a plan must keep: ``prevent_destroy`` (checked when planning and again at apply)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lorainfra.addresses import Address
from lorainfra.config.model import Resource
from lorainfra.errors import Diagnostic
from lorainfra.plan.model import Action, Change


def prevent_destroy_violations(
    changes: Iterable[Change], resources: Mapping[Address, Resource]
) -> list[Diagnostic]:
    """One diagnostic per change that would delete or replace a resource declared with
    ``lifecycle.prevent_destroy``, at the resource's declaration. Pure."""
    found = []
    for change in changes:
        if change.action not in (Action.DELETE, Action.REPLACE):
            continue
        try:
            resource = resources.get(Address.parse(change.address))
        except ValueError:
            continue  # not an address this config could declare: nothing to protect
        if resource is not None and resource.lifecycle.prevent_destroy:
            found.append(Diagnostic(
                resource.span,
                f"{change.address} has lifecycle.prevent_destroy set, but this plan would "
                f"{'destroy' if change.action is Action.DELETE else 'replace'} it",
                "remove prevent_destroy deliberately, or undo the change that forces it",
                address=change.address,
            ))
    return found
