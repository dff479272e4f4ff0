"""JSON plan: the versioned machine-readable form of a Plan (schemas/plan.schema.json), both ways (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lorainfra import __version__
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping
from lorainfra.plan.model import Action, AttributeChange, Change, DriftItem, Fingerprint, Plan
from lorainfra.state.backend import LockInfo

# major.minor: additive changes bump the minor; readers accept any minor of their major
FORMAT_VERSION = "1.1"
_ACTIONS = {
    Action.NOOP: ["no-op"],
    Action.CREATE: ["create"],
    Action.UPDATE: ["update"],
    Action.REPLACE: ["delete", "create"],
    Action.DELETE: ["delete"],
}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def change_to_json(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "kind": change.kind,
        "action": change.action.value,
        "actions": ["create", "delete"] if change.action is Action.REPLACE and change.create_first
        else _ACTIONS[change.action],
        "before": _plain(change.before) if change.before is not None else None,
        "after": _plain(change.after) if change.after is not None else None,
        "attributes": [
            {"name": a.name, "before": _plain(a.before), "after": _plain(a.after),
             "forces_replacement": a.forces_replacement, "reset": a.reset, "kept": a.kept}
            for a in change.attributes
        ],
        "replace_paths": list(change.replace_paths),
        "remote_name": change.remote_name,
        "depends_on": list(change.depends_on),
        "reason": change.reason,
        "create_before_destroy": change.create_first,
        "gap": change.gap,
        "adopts": change.adopts,
        **({"adoption_refused": change.adoption_refused} if change.adoption_refused else {}),
        **({"deposed": True} if change.deposed else {}),
    }


def drift_to_json(items: tuple[DriftItem, ...]) -> list[dict[str, Any]]:
    """The one JSON form of drift items (in a plan, and in ``lorainfra drift --json``)."""
    return [{"address": d.address, "kind": d.kind, "attribute": d.attribute,
             "expected": _plain(d.expected), "live": _plain(d.live)} for d in items]


def lock_to_json(lock: LockInfo | None, in_flight: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Who holds the state lock and what it is changing (only while another run holds it)."""
    if lock is None:
        return {}
    return {"lock": {"id": lock.id, "who": lock.who, "operation": lock.operation, "created": lock.created},
            "in_flight": [{"address": address, "operation": operation} for address, operation in in_flight]}


def drift_document(
    items: tuple[DriftItem, ...], lock: LockInfo | None = None, in_flight: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """What ``lorainfra drift --json`` prints."""
    return {"format_version": "1.0", "drift": drift_to_json(items), **lock_to_json(lock, in_flight)}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-able dict (deterministic: sorted by address, sorted keys when dumped)."""
    return {
        "format_version": FORMAT_VERSION,
        "lorainfra_version": __version__,
        "destroy": plan.destroy,
        "summary": plan.counts(),
        "has_changes": plan.has_changes,
        "fingerprint": {
            "lineage": plan.fingerprint.lineage,
            "serial": plan.fingerprint.serial,
            "config_digest": plan.fingerprint.config_digest,
            "observed_digest": plan.fingerprint.observed_digest,
        },
        "changes": [change_to_json(c) for c in plan.changes],
        "drift": drift_to_json(plan.drift),
        "unmanaged": list(plan.unmanaged),
        "errors": [
            {"file": e.span.file, "line": e.span.line, "col": e.span.col, "message": e.message, "hint": e.hint}
            for e in plan.errors
        ],
        "observed_digests": dict(sorted(plan.observed_digests.items())),
        "targets": list(plan.targets),
        **lock_to_json(plan.lock, plan.in_flight),
        **({"refresh_only": True} if plan.refresh_only else {}),
    }


def check_version(data: Mapping[str, Any]) -> None:
    version = str(data.get("format_version", ""))
    major = version.split(".", 1)[0]
    if major != FORMAT_VERSION.split(".", 1)[0]:
        raise ValueError(f"plan format_version {version!r} is not supported (this lorainfra reads {FORMAT_VERSION})")


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    """Rebuild a Plan from its JSON form (for ``apply PLANFILE``)."""
    check_version(data)
    changes = tuple(
        Change(
            address=c["address"],
            kind=c["kind"],
            action=Action(c["action"]),
            attributes=tuple(
                AttributeChange(a["name"], a["before"], a["after"], bool(a["forces_replacement"]),
                                bool(a.get("reset", False)), bool(a.get("kept", False)))
                for a in c.get("attributes", [])
            ),
            before=frozen_mapping(c["before"]) if c.get("before") is not None else None,
            after=frozen_mapping(c["after"]) if c.get("after") is not None else None,
            remote_name=c.get("remote_name", ""),
            depends_on=tuple(c.get("depends_on", [])),
            reason=c.get("reason", ""),
            create_first=bool(c.get("create_before_destroy", False)),
            gap=str(c.get("gap", "")),
            adopts=bool(c.get("adopts", False)),
            adoption_refused=str(c.get("adoption_refused", "")),
            deposed=bool(c.get("deposed", False)),
        )
        for c in data["changes"]
    )
    fp = data["fingerprint"]
    return Plan(
        changes=changes,
        drift=tuple(DriftItem(d["address"], d["kind"], d.get("attribute", ""), d.get("expected"), d.get("live"))
                    for d in data.get("drift", [])),
        unmanaged=tuple(data.get("unmanaged", [])),
        fingerprint=Fingerprint(fp["lineage"], int(fp["serial"]), fp["config_digest"], fp["observed_digest"]),
        errors=tuple(Diagnostic(Span(e["file"], e["line"], e["col"]), e["message"], e.get("hint", ""))
                     for e in data.get("errors", [])),
        observed_digests=frozen_mapping(data.get("observed_digests", {})),
        destroy=bool(data.get("destroy", False)),
        targets=tuple(str(t) for t in data.get("targets", [])),
        lock=LockInfo(**{k: str(v) for k, v in data["lock"].items()}) if data.get("lock") else None,
        in_flight=tuple((str(f["address"]), str(f["operation"])) for f in data.get("in_flight", [])),
        refresh_only=bool(data.get("refresh_only", False)),
    )
