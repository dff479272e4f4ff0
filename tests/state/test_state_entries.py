"""``Entries.changes_since``: what a commit records costs O(entries changed), not O(entries) (issue 16)."""

from __future__ import annotations

from lorainfra.state.model import Entries


class Counted(Entries[object]):
    """Counts the look-ups a diff makes in it (the entries it examines)."""

    looked = 0

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        Counted.looked += 1
        return super().get(key, default)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for key in super().__iter__():
            Counted.looked += 1
            yield key


def test_a_diff_after_a_few_edits_examines_only_the_edited_entries() -> None:
    old = Counted({f"lora.x{i:05}": object() for i in range(10_000)})
    first, second = object(), object()
    new = old.setting("lora.x00001", first).setting("lora.new", second).removing("lora.x00002")
    new = new.setting("lora.x00001", first).removing("lora.absent")
    Counted.looked = 0
    put, gone = new.changes_since(old)
    assert (put, gone) == ({"lora.x00001": first, "lora.new": second}, ["lora.x00002"])
    assert Counted.looked <= 10


def test_a_diff_is_the_same_whichever_way_the_versions_are_related() -> None:
    a, b, c = object(), object(), object()
    base = Entries({"k1": a, "k2": b, "k3": c})
    edited = base.setting("k1", c).removing("k2").setting("k4", a).removing("k4").setting("k3", c)
    expected = ({"k1": c}, ["k2"])
    assert edited.changes_since(base) == expected
    assert _normal(edited.changes_since(Entries(dict(base.items())))) == expected  # unrelated: compared whole
    assert _normal(edited.changes_since(dict(base.items()))) == expected  # a plain mapping too
    assert _normal(base.changes_since(edited)) == ({"k2": b, "k1": a}, [])  # backwards: compared whole
    sibling = base.setting("k2", c)
    assert _normal(edited.changes_since(sibling)) == ({"k1": c}, ["k2"])  # not an ancestor: compared whole
    assert edited.changes_since(edited) == ({}, [])


def _normal(diff: tuple[dict[str, object], list[str]]) -> tuple[dict[str, object], list[str]]:
    return dict(sorted(diff[0].items())), sorted(diff[1])


def test_two_versions_built_separately_are_compared_whole() -> None:
    a, b = object(), object()
    assert Entries({"k1": a}).changes_since(Entries({"k1": b, "k2": b})) == ({"k1": a}, ["k2"])
    left = Entries({"k1": a}).setting("k1", b)
    assert _normal(left.changes_since(Entries({"k1": a, "k2": a}))) == ({"k1": b}, ["k2"])
