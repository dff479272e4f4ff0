"""Listing a collection from both ends: two page chains (``orderBy=name`` and ``orderBy=name desc``) that meet.

A refresh is bound by its longest chain of pages, one request after another (``nextPageToken`` is only known
once the page arrived). A long collection is listed from both ends at once and the listing stops where the two
streams meet, which halves that chain for the same number of requests (at most one more: the streams must
overlap by one object to prove that nothing lies between them). The second end is opened only when the first
page's ``totalSize`` says at least ``BOTH_ENDS_FROM`` more pages are left; shorter (or unsized) listings are read
one page after another as before, in name order.

Correctness, also under concurrent changes: the ascending stream has seen every
name up to its last one, the descending stream every name down to its last one, each as plain pagination would
(page tokens are the server's); once the ascending stream's last name is at or past the descending stream's last
name, and some object was read by both (so the two have met in the server's order as well), every name is
covered. An object that exists throughout the listing is therefore seen, as with one stream;
one created or deleted meanwhile may or may not be, as with one stream. An object seen by both streams (in the
overlap) is taken from the page received last. The streams are trusted only while the server honours the order:
every page is checked to be strictly ordered as asked (within the page and after the stream's previous page), and
the descending stream must start above where the ascending one started. Any page out of order, or a 400 for the
descending order, and the listing falls back to the ascending stream alone, followed to its end like a plain
listing (its pages are a valid listing in whatever order the server uses); the descending stream's objects are
dropped. A server that rejects ``orderBy`` altogether (400 on the first page) is listed plainly, without it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lorainfra.errors import ApiError, ProtocolError

T = TypeVar("T")
Fetch = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]  # one GET of a page with these query parameters
Split = Callable[[dict[str, Any]], tuple[list[dict[str, Any]], str]]  # a checked page: (items, nextPageToken)

ASCENDING = "name"
DESCENDING = "name desc"
BOTH_ENDS_FROM = 8  # pages still to list, after the first, from which the second end is worth its extra request


def follow_token(what: str, token: str, followed: set[str], pages: int, max_pages: int) -> None:
    """The one rule for following a ``nextPageToken`` after ``pages`` pages (``what``: "GET /v1/...", for the
    message): a token already followed means the server pages in a loop, and more than ``max_pages`` pages an
    endless listing; either stops the listing (ProtocolError). A token to follow is recorded in ``followed``."""
    if not token:
        return
    if token in followed:
        raise ProtocolError(f"{what}: the server sent a repeated nextPageToken after {pages} "
                            "pages: it is paging in a loop; stopped listing")
    if pages >= max_pages:
        raise ProtocolError(f"{what}: more than {max_pages} pages; stopped listing "
                            "(is the endpoint the Fireworks API?)")
    followed.add(token)


@dataclass(frozen=True)
class Pages:
    """How pages are fetched and checked: the GET, the page check, the page size and the page cap."""

    fetch: Fetch
    split: Split
    page_size: int
    max_pages: int
    what: str  # "GET /v1/accounts/A/deployedModels", for messages
    both_ends_from: int = BOTH_ENDS_FROM  # pages left after the first (by totalSize) to open the second end


class _Stream:
    """One chain of pages in one order: its token, the first and last names it read, its raw items."""

    def __init__(self, order: str, descending: bool) -> None:
        self.order = order
        self.descending = descending
        self.token = ""
        self.first = ""
        self.last = ""
        self.ended = False
        self.items: list[dict[str, Any]] = []
        self.names: set[str] = set()
        self.tokens: set[str] = set()

    def in_order(self, names: list[str]) -> bool:
        run = [self.last, *names] if self.last else names
        pairs = itertools.pairwise(run)
        return all(a > b for a, b in pairs) if self.descending else all(a < b for a, b in pairs)


class _Listing:
    """The two streams of one listing, the pages read so far and how to read more."""

    def __init__(self, pages: Pages, params: Mapping[str, Any]) -> None:
        self.pages = pages
        self.params = params
        self.asc = _Stream(ASCENDING, False)
        self.desc = _Stream(DESCENDING, True)
        self.count = 0
        self.total: int | None = None  # the latest page's totalSize: a hint (it changes as objects come and go)
        self.shared = False  # some object was read by both streams

    def get(self, stream: _Stream, *, ordered: bool = True) -> asyncio.Future[dict[str, Any]]:
        query: dict[str, Any] = {"pageSize": self.pages.page_size, **self.params}
        if ordered:
            query["orderBy"] = stream.order
        if stream.token:
            query["pageToken"] = stream.token
        return asyncio.ensure_future(self.pages.fetch(query))

    def take(self, stream: _Stream, page: dict[str, Any]) -> list[dict[str, Any]]:
        """Record a page of ``stream`` (token, items, the total hint); raise for a looping or endless listing."""
        self.count += 1
        items, token = self.pages.split(page)
        follow_token(self.pages.what, token, stream.tokens, self.count, self.pages.max_pages)
        stream.token, stream.ended = token, not token
        stream.items.extend(items)
        total = page.get("totalSize")
        self.total = total if isinstance(total, int) and not isinstance(total, bool) else None
        return items

    def ordered(self, stream: _Stream, items: list[dict[str, Any]]) -> bool:
        """Whether the page is as asked, and then note its first and last names. The descending stream must
        start above the ascending one's start (a server that ignores the order starts both alike)."""
        names = [str(item["name"]) for item in items]
        if not stream.in_order(names):
            return False
        if stream is self.desc and not self.desc.first and names and names[0] <= self.asc.first:
            return False
        if names:
            stream.first = stream.first or names[0]
            stream.last = names[-1]
        other = self.desc if stream is self.asc else self.asc
        self.shared = self.shared or any(name in other.names for name in names)
        stream.names.update(names)
        return True

    def met(self) -> bool:
        """The streams met: they crossed (by name), and on an object both read. The object read by both proves
        the crossing in the server's own order too (each stream has read everything on its side of it), should
        its collation differ from Python's between names no page showed side by side."""
        return self.shared and bool(self.asc.last and self.desc.last) and self.asc.last >= self.desc.last

    def needed(self, in_flight: int) -> bool:
        """Whether a stream should ask for its next page now: the streams have not met, and either nothing is
        in flight or the pages in flight (counted as full) would not reach the other stream by one object. The
        gap is ``totalSize`` less the objects read (disjoint until the streams meet); a wrong hint costs a round
        trip or a request, never an object."""
        if self.met():
            return False
        if not in_flight or self.total is None:
            return True
        return self.total - len(self.asc.items) - len(self.desc.items) + 1 > self.pages.page_size * in_flight


async def list_both_ends(pages: Pages, params: Mapping[str, Any], parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Every item of the collection, each through ``parse`` (see the module doc). Each page is parsed while the
    requests for the next ones are in flight."""
    listing = _Listing(pages, params)
    asc, desc = listing.asc, listing.desc
    try:
        first = await listing.get(asc)
    except ApiError as exc:
        if exc.status != 400:
            raise
        return await _plain(listing, [], parse, ordered=False)  # orderBy refused: list in the server's order
    items = listing.take(asc, first)
    left = 0 if listing.total is None else listing.total - len(items)  # no totalSize: no sign it would pay
    if asc.ended or not listing.ordered(asc, items) or left <= 0 or left < pages.both_ends_from * pages.page_size:
        return await _plain(listing, [parse(item) for item in items], parse, ordered=True)
    latest = {str(item["name"]): parse(item) for item in items}  # an object both streams read: the copy read last
    pending: dict[_Stream, asyncio.Future[dict[str, Any]]] = {}
    received: list[dict[str, Any]] = []  # items of the pages that arrived last, not parsed yet
    try:
        while not (asc.ended or desc.ended or listing.met()):
            for stream in (asc, desc):
                if stream not in pending and not stream.ended and listing.needed(len(pending)):
                    pending[stream] = listing.get(stream)
            for _ in range(3):  # let the new requests reach the socket before parsing
                await asyncio.sleep(0)
            latest.update((str(item["name"]), parse(item)) for item in received)
            received = []
            done, _ = await asyncio.wait(pending.values(), return_when=asyncio.FIRST_COMPLETED)
            for stream in [s for s, f in pending.items() if f in done]:
                try:
                    page = pending.pop(stream).result()
                except ApiError as exc:
                    if stream is desc and exc.status == 400:  # the descending order is refused
                        return await _fallback(listing, pending, parse)
                    raise
                items = listing.take(stream, page)
                if not listing.ordered(stream, items):
                    return await _fallback(listing, pending, parse)
                received.extend(items)
    finally:
        for future in pending.values():
            future.cancel()
    latest.update((str(item["name"]), parse(item)) for item in received)
    return [latest[name] for name in sorted(latest)]


async def _plain(listing: _Listing, parsed: list[T], parse: Callable[[dict[str, Any]], T], *,
                 ordered: bool) -> list[T]:
    """Follow the ascending stream's tokens to the end with the query it started with (``ordered``:
    ``orderBy=name``; a token belongs to its query), checking no order: a plain listing. ``parsed``: its
    items parsed so far."""
    asc = listing.asc
    while not asc.ended:
        parsed.extend(parse(item) for item in listing.take(asc, await listing.get(asc, ordered=ordered)))
    return parsed


async def _fallback(listing: _Listing, pending: dict[_Stream, asyncio.Future[dict[str, Any]]],
                    parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """The server does not honour the order: drop the descending stream, finish the ascending one alone."""
    asc = listing.asc
    for stream in list(pending):
        future = pending.pop(stream)
        if stream is asc:
            listing.take(asc, await future)
        else:
            future.cancel()
    return await _plain(listing, [parse(item) for item in asc.items], parse, ordered=True)
