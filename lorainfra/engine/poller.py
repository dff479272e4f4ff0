"""Poller: many waiters, few requests. Reads asked for in the same moment are served by one LIST when cheaper."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import datetime

from lorainfra.live import RemoteObject
from lorainfra.providers.base import Provider
from lorainfra.providers.newest import created_at

PAGE = 200
NEWEST_FROM = 4  # waiters from which a newest-first LIST (a page or two) beats one GET each


class Poller:
    """Coalesces ``get(kind, name)`` calls made while waiting for resources to become ready.

    Calls arriving within ``gather`` seconds of each other form a batch. A batch of N names of one
    kind costs N GETs, or one paged LIST of that kind (ceil(total / 200) requests): the cheaper is
    used. While requests queue behind the request-rate limit (``Provider.congested``), a batch stays open
    (up to ``patience`` seconds): its read would only wait its turn, and the waiters gathered meanwhile share
    it. Waiting on 200 LoRAs thus costs a request or two per tick instead of 200, and the LIST parses
    only the objects waited for. A failed LIST does not fail the batch: its waiters read with GETs
    instead, and a failed GET fails only its own.

    Waiters that say when their object was created (``created``: its ``createTime``, from the create's answer)
    are the newest objects of the account: a batch of ``NEWEST_FROM`` or more of them is read newest first and
    stopped once all are seen (``Provider.list_newest``), a page or two whatever the account's size, where a
    whole LIST would grow with it. A name that reading did not see is confirmed with a GET. A server that does
    not list newest first is not asked again.
    """

    def __init__(self, provider: Provider, totals: Mapping[str, int] | None = None, *, gather: float = 0.02,
                 patience: float = 2.0) -> None:
        self.provider = provider
        self.totals = dict(totals or {})  # objects per kind in the account, from the last LIST
        self.gather = gather
        self.patience = patience  # longest a batch stays open while requests queue behind the rate limit
        self._batches: dict[str, dict[str, list[asyncio.Future[RemoteObject | None]]]] = {}
        self._created: dict[str, dict[str, datetime | None]] = {}  # per kind, per waited name: since when it exists
        self._flushers: dict[str, asyncio.Task[None]] = {}
        self._unordered: set[str] = set()  # kinds the server would not list newest first

    async def get(self, kind: str, name: str, created: str = "") -> RemoteObject | None:
        """The live object ``name`` (None: it does not exist); ``created``: its ``createTime`` when known."""
        future: asyncio.Future[RemoteObject | None] = asyncio.get_running_loop().create_future()
        self._batches.setdefault(kind, {}).setdefault(name, []).append(future)
        since = self._created.setdefault(kind, {})
        when = created_at(created)
        since[name] = when if since.get(name, when) == when else None  # asked without (or with another): unknown
        if kind not in self._flushers or self._flushers[kind].done():
            self._flushers[kind] = asyncio.ensure_future(self._flush(kind))
        return await future

    async def _flush(self, kind: str) -> None:
        await asyncio.sleep(self.gather)
        # while requests queue behind the rate limit, a read sent now would only wait its turn: the batch stays
        # open meanwhile (up to ``patience``), so the waiters of that time share its requests instead of each
        # spending the account's budget on a read of its own (issue 16)
        waited = 0.0
        while waited < self.patience and self.provider.congested():
            await asyncio.sleep(self.gather)
            waited += self.gather
        batch = self._batches.pop(kind, {})
        created = self._created.pop(kind, {})
        # calls made from now on form the next batch, with a flush of their own (never left waiting
        # behind this one's requests)
        self._flushers.pop(kind, None)
        if not batch:
            return
        try:
            results = await self._read(kind, batch, created)
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

    async def _read(self, kind: str, batch: Mapping[str, object],
                    created: Mapping[str, datetime | None]) -> dict[str, RemoteObject | BaseException | None]:
        """Each name's object, None, or its own error: a failed LIST falls back to GETs, one failed GET fails one name."""
        since = [created.get(name) for name in batch]
        if len(batch) >= NEWEST_FROM and kind not in self._unordered and all(since):
            try:
                newest = await self.provider.list_newest(kind, frozenset(batch), min(s for s in since if s))
            except Exception:
                newest = {}  # each waiter not read then reads on its own, with its own retries
            if newest is None:
                self._unordered.add(kind)
            else:
                unseen = [name for name in batch if name not in newest]
                return {**newest, **await self._gets(kind, unseen)}
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
        return await self._gets(kind, list(batch))

    async def _gets(self, kind: str, names: list[str]) -> dict[str, RemoteObject | BaseException | None]:
        """One GET per name; a failed GET is that name's own error."""
        outcomes = await asyncio.gather(*(self.provider.get(kind, name) for name in names), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation, KeyboardInterrupt: not a read error
        return dict(zip(names, outcomes, strict=True))
