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


def _allocated_per_edit(entries: Entries[object], edits: int) -> float:
    """Bytes allocated per one-key edit (set an existing key, add one, remove one), by tracemalloc: a count of
    the work an edit does in memory, not a timer."""
    import tracemalloc

    value = object()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        kept = []
        for i in range(edits):
            kept.append(entries.setting("lora.x00003", value))
            kept.append(entries.setting(f"lora.new{i}", value))
            kept.append(entries.removing(f"lora.x{i:05}"))
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return allocated / (3 * edits)


def test_an_edit_does_not_copy_the_whole_section() -> None:
    """A 10,700-entry section (the fleet of issue 16): each edit's new version shares most of the old one's
    structure, so it allocates a small fraction of a whole copy (a dict copy per edit was 1.4 s of the apply)."""
    n = 10_700
    entries: Entries[object] = Entries({f"lora.x{i:05}": object() for i in range(n)})
    whole_copy = _allocated_per_edit_of_a_dict(n)
    per_edit = _allocated_per_edit(entries, 50)
    assert per_edit < whole_copy / 20, (per_edit, whole_copy)
    small = _allocated_per_edit(Entries({f"lora.x{i:05}": object() for i in range(n // 10)}), 50)
    assert per_edit < small * 5, (per_edit, small)  # O(sqrt(n)) per edit: x3.2 for 10x the entries, not x10


def _allocated_per_edit_of_a_dict(n: int) -> int:
    import tracemalloc

    items = {f"lora.x{i:05}": object() for i in range(n)}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copy = items.copy()
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(copy) == n
    return allocated


def test_edits_keep_value_semantics_across_many_versions() -> None:
    """Versions derived from one another stay independent while the structure is shared and regrown."""
    import random

    rng = random.Random(16)
    versions: list[tuple[Entries[int], dict[str, int]]] = [(Entries(), {})]
    for step in range(3000):
        entries, model = versions[rng.randrange(len(versions))] if step % 7 == 0 else versions[-1]
        key = f"k{rng.randrange(400)}"
        if rng.random() < 0.3:
            entries, model = entries.removing(key), {k: v for k, v in model.items() if k != key}
        else:
            entries, model = entries.setting(key, step), {**model, key: step}
        versions.append((entries, model))
    for entries, model in versions[::37] + versions[-5:]:
        assert dict(entries.items()) == model
        assert list(entries) == sorted(model)
        assert len(entries) == len(model)
        assert entries == model and entries == Entries(model)
        assert all(k in entries and entries[k] == v for k, v in model.items())
        assert "absent" not in entries and entries.get("absent") is None


def test_a_pickled_section_is_read_back_by_content() -> None:
    """A string's hash (so its bucket) differs between processes: a pickle holds the entries, not the buckets."""
    import pickle

    entries = Entries({f"k{i}": i for i in range(100)}).setting("k7", -7).removing("k8")
    back = pickle.loads(pickle.dumps(entries))
    assert back == entries and back["k7"] == -7 and "k8" not in back and list(back) == list(entries)
