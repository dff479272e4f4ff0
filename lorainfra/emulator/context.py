"""Per-emulator context: store, options, emulated clock and the transaction helper that settles state."""

from __future__ import annotations

import random
import re
import secrets
import sqlite3
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lorainfra.emulator.options import EmulatorOptions
from lorainfra.emulator.store import Store

Settle = Callable[["Ctx", sqlite3.Connection, float], None]


@dataclass
class Ctx:
    """Everything a resource service needs; `tx()` yields (db, now) after settling due transitions."""

    store: Store
    options: EmulatorOptions
    base_clock: Callable[[], float]
    settlers: list[Settle] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(secrets.randbits(64)))

    def now(self, db: sqlite3.Connection) -> float:
        return self.base_clock() + float(self.store.meta_get(db, "clock_offset", "0"))

    @contextmanager
    def tx(self) -> Iterator[tuple[sqlite3.Connection, float]]:
        with self.store.tx() as db:
            now = self.now(db)
            for settle in self.settlers:
                settle(self, db, now)
            yield db, now

    def fails(self, subject: str) -> bool:
        pattern = self.options.fail_pattern
        return pattern is not None and pattern != "" and re.search(pattern, subject) is not None

    def random_id(self, prefix: str = "", length: int = 8) -> str:
        alphabet = string.ascii_lowercase + string.digits
        tail = "".join(self.rng.choice(alphabet) for _ in range(length))
        if prefix:
            return f"{prefix[: 62 - length].rstrip('-')}-{tail}"
        return self.rng.choice(string.ascii_lowercase) + tail[1:]
