"""Reading objects just created: a collection listed newest first (``orderBy=createTime desc``), stopped early.

A wait for many objects at once is served by one LIST instead of one GET each (``engine/poller.py``). Read in the
server's default order, that LIST costs every page of the collection: 53 requests for 10,600 LoRAs, so the
requests per wait grew with the account (issue 16). Objects being waited on after their create are the newest of
their collection: read newest first, they are on the first page or two, and the listing stops as soon as every
name asked for was seen, or once a page reaches objects created before the oldest of them (``since``): nothing
further down can be one of them.

The order is trusted only while the server honours it: every item's ``createTime`` must be present and no later
than the one before it (across pages too). A page out of that order, or a 400 for the ``orderBy``, and the
answer is None: the caller reads another way. A name not seen is reported missing; the caller confirms that
with a GET of its own (a page shifted by concurrent deletes could have hidden it, as in any paged listing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from lorainfra.errors import ApiError
from lorainfra.providers.listing import Pages, follow_token

T = TypeVar("T")
NEWEST_FIRST = "createTime desc"


def created_at(text: object) -> datetime | None:
    """An RFC 3339 ``createTime`` as an aware datetime; None when absent or not a timestamp."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


async def list_newest(pages: Pages, params: Mapping[str, Any], names: frozenset[str], since: datetime,
                      parse: Callable[[dict[str, Any]], T]) -> dict[str, T] | None:
    """The objects of ``names`` found reading newest first, by name (see the module doc); None when the server
    does not list in that order."""
    query = {**params, "pageSize": pages.page_size, "orderBy": NEWEST_FIRST}
    found: dict[str, T] = {}
    previous: datetime | None = None
    token = ""
    followed: set[str] = set()
    count = 0
    while True:
        try:
            page = await pages.fetch({**query, "pageToken": token} if token else query)
        except ApiError as exc:
            if exc.status == 400:
                return None  # the order is refused
            raise
        items, token = pages.split(page)
        count += 1
        for item in items:
            created = created_at(item.get("createTime"))
            if created is None or (previous is not None and created > previous):
                return None  # not newest first: the server does not honour the order
            previous = created
            if item["name"] in names:
                found[item["name"]] = parse(item)
        if len(found) == len(names) or not token or (previous is not None and previous < since):
            return found
        follow_token(pages.what, token, followed, count, pages.max_pages)
