"""The garbage collector while an apply runs: what lived before it is frozen, and full collections are rarer.

CPython's cyclic collector walks every tracked object on each full (generation 2) collection. A
10,700-resource apply keeps hundreds of thousands of objects alive (the plan, the state, a task per
step) and ran 24 full collections, 5 s of its 42 s of CPU (issue 16; measured with ``gc.callbacks``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# collections of the middle generation between two full ones (CPython's default is 10); a full collection
# also still waits until the objects that reached the old generation since the last one are a quarter of it
FULL_COLLECTION_EVERY = 100


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
