"""The garbage collector: rarer collections for a whole command; while an apply runs, what lived before it is
frozen and full collections are rarer still.

CPython's cyclic collector walks every tracked object on each full (generation 2) collection. A
10,700-resource apply keeps hundreds of thousands of objects alive (the plan, the state, a task per
step) and ran 24 full collections, 5 s of its 42 s of CPU (issue 16; measured with ``gc.callbacks``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# allocations (net, of tracked objects) between two young-generation collections for a whole command: CPython's
# 700 made a 10,700-resource plan run 1,300 young, 120 middle and 10 full collections, about 1 s of its 3.2 s of
# CPU, walking config, state and refresh objects that all live to the end of the command (issue 16; mypy sets
# 200,000 for the same reason). Garbage without cycles is freed at once whatever the threshold.
YOUNG_COLLECTION_EVERY = 50_000
MIDDLE_COLLECTION_EVERY = 20

# collections of the middle generation between two full ones (CPython's default is 10); a full collection
# also still waits until the objects that reached the old generation since the last one are a quarter of it
FULL_COLLECTION_EVERY = 100


@contextmanager
def fewer_collections() -> Iterator[None]:
    """For the block (one CLI command): collections every ``YOUNG_COLLECTION_EVERY`` allocations, and of the
    older generations after ``MIDDLE_COLLECTION_EVERY`` younger ones, instead of 700/10/10; restored at the end.
    Nothing is changed when the collector is disabled."""
    if not gc.isenabled():
        yield
        return
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_EVERY), max(thresholds[1], MIDDLE_COLLECTION_EVERY),
                     max(thresholds[2], MIDDLE_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """For the block: every object alive at its start (modules, config, plan, the state read) is moved to the
    collector's permanent generation (``gc.freeze``), so full collections do not walk it, and a full
    collection comes after ``FULL_COLLECTION_EVERY`` middle-generation collections instead of 10.

    Undone at the end (``gc.unfreeze``, thresholds restored): the objects are collectable again. Nothing is
    changed when the collector is disabled or the heap is already frozen (by the program, or an enclosing
    run: its own end restores the collector).
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(thresholds[0], thresholds[1], max(thresholds[2], FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
