"""Poller: many waiters, few requests. Reads asked for in the same moment are served by one LIST when cheaper."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from lorainfra.live import RemoteObject
from lorainfra.providers.base import Provider

PAGE = 200


class Poller:
    """Coalesces ``get(kind, name)`` calls made while waiting for resources to become ready.

    Calls arriving within ``gather`` seconds of each other form a batch. A batch of N names of one
    kind costs N GETs, or one paged LIST of that kind (ceil(total / 200) requests): the cheaper is
    used. Waiting on 200 LoRAs thus costs a request or two per tick instead of 200, and the LIST parses
    only the objects waited for. A failed LIST does not fail the batch: its waiters read with GETs
    instead, and a failed GET fails only its own.
    """

    def __init__(self, provider: Provider, totals: Mapping[str, int] | None = None, *, gather: float = 0.02) -> None:
        self.provider = provider
        self.totals = dict(totals or {})  # objects per kind in the account, from the last LIST
        self.gather = gather
        self._batches: dict[str, dict[str, list[asyncio.Future[RemoteObject | None]]]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        future: asyncio.Future[RemoteObject | None] = asyncio.get_running_loop().create_future()
        self._batches.setdefault(kind, {}).setdefault(name, []).append(future)
        if kind not in self._flushers or self._flushers[kind].done():
            self._flushers[kind] = asyncio.ensure_future(self._flush(kind))
        return await future

    async def _flush(self, kind: str) -> None:
        await asyncio.sleep(self.gather)
        batch = self._batches.pop(kind, {})
        # calls made from now on form the next batch, with a flush of their own (never left waiting
        # behind this one's requests)
        self._flushers.pop(kind, None)
        if not batch:
            return
        try:
            results = await self._read(kind, batch)
        except BaseException as exc:  # only cancellation gets here: read errors are per name
            for futures in batch.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            raise
        for name, futures in batch.items():
            for f in futures:
                if not f.done():
                    outcome = results[name]
                    if isinstance(outcome, BaseException):
                        f.set_exception(outcome)
                    else:
                        f.set_result(outcome)

    async def _read(self, kind: str, batch: Mapping[str, object]) -> dict[str, RemoteObject | BaseException | None]:
        """Each name's object, None, or its own error: a failed LIST falls back to GETs, one failed GET fails one name."""
        pages = max(1, math.ceil(self.totals.get(kind, 0) / PAGE))
        if len(batch) > pages:
            try:
                # only the waited objects are parsed: a LIST of 10,000 LoRAs serving a few dozen waiters
                # otherwise parses all of them on every tick (issue 16)
                total, listed = await self.provider.list_some(kind, frozenset(batch))
            except Exception:
                pass  # each waiter then reads on its own, with its own retries
            else:
                self.totals[kind] = total
                found: dict[str, RemoteObject | None] = {o.name: o for o in listed}
                return {name: found.get(name) for name in batch}
        outcomes = await asyncio.gather(*(self.provider.get(kind, name) for name in batch), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation, KeyboardInterrupt: not a read error
        return dict(zip(batch, outcomes, strict=True))
