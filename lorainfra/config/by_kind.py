"""ByKind: a config's resources with each kind's listed once, for plan-time checks that look across kinds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from lorainfra.addresses import Address
from lorainfra.config.model import Resource


class ByKind(Mapping[Address, Resource]):
    """``resources`` as a read-only mapping, plus each kind's resources in address order, grouped once.

    The planner checks every create with the whole config in hand; a check that scanned every resource
    for each LoRA (its planned model, the serverless LoRAs on its base) made a 10,700-resource plan
    quadratic (issue 16). Grouped once per plan, such a look-up costs the resources of one kind.
    """

    def __init__(self, resources: Mapping[Address, Resource]) -> None:
        self._resources = resources
        groups: dict[str, list[Resource]] = {}
        for address in sorted(resources):
            groups.setdefault(address.kind, []).append(resources[address])
        self._by_kind = {kind: tuple(found) for kind, found in groups.items()}

    def __getitem__(self, address: Address) -> Resource:
        return self._resources[address]

    def __iter__(self) -> Iterator[Address]:
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)

    def of_kind(self, kind: str) -> tuple[Resource, ...]:
        return self._by_kind.get(kind, ())


def of_kind(resources: Mapping[Address, Resource], kind: str) -> tuple[Resource, ...]:
    """The resources of ``kind`` in address order: grouped once when ``resources`` is a ``ByKind``."""
    if isinstance(resources, ByKind):
        return resources.of_kind(kind)
    return tuple(resources[a] for a in sorted(a for a in resources if a.kind == kind))
