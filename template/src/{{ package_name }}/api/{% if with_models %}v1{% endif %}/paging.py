"""Keyset (cursor) pagination: a page costs the same on the first page and the millionth.

A list is ordered by a unique key that an index holds in that order (``Keyset.order``). A
page is the first ``limit`` rows after the cursor's key, ``WHERE (a, b, c) > (:a, :b, :c)``:
PostgreSQL starts the index scan at the key and reads ``limit + 1`` rows (the extra one says
whether there is a next page), whatever the table's size or the page's depth. Nothing is
counted: a count is a scan of every matching row.

The cursor is the last row's key as base64url JSON. It is not secret (it holds values the
client has just been sent) and not signed: a made-up cursor only starts a list elsewhere.
It is validated like any input: one that does not decode to the list's key is a 422.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import ColumnExpressionArgument, Select, tuple_

Row = TypeVar("Row")
Key = TypeVar("Key")
Item = TypeVar("Item")

Cursor = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Where the page starts: the ``next`` of the previous page.",
    ),
]
# Pages hold 1 to 100 items.
Limit = Annotated[int, Query(ge=1, le=100)]


class Page(BaseModel, Generic[Item]):
    """One page of a list; ``next`` is the cursor of the page after it (None: the last)."""

    items: list[Item]
    next: str | None
    limit: int


@dataclass(frozen=True)
class Keyset(Generic[Item, Key]):
    """A list's order: unique, held by an index, and how an item's position in it is read."""

    order: tuple[
        ColumnExpressionArgument[Any], ...
    ]  # the ORDER BY, the index's columns in its order
    key: Callable[[Item], Key]  # an item's position, as the cursor carries it
    bound: Callable[[Key], Sequence[Any]]  # a position as SQL values, one per ``order``
    adapter: TypeAdapter[Key]

    def encode(self, key: Key) -> str:
        """The cursor of the page that starts after ``key``."""
        return base64.urlsafe_b64encode(self.adapter.dump_json(key)).rstrip(b"=").decode()

    def decode(self, cursor: str | None) -> Key | None:
        """The position a cursor holds; a 422 naming the parameter when it holds none."""
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            return self.adapter.validate_json(raw)
        except (binascii.Error, ValueError, ValidationError):
            error = {
                "type": "value_error",
                "loc": ("query", "cursor"),
                "msg": "not a cursor of this list: pass the `next` of a page, unchanged",
                "input": cursor,
            }
            raise RequestValidationError([error]) from None

    def select(self, query: Select[Row], cursor: str | None, limit: int) -> Select[Row]:
        """``query`` ordered by the key, from the cursor's position, one row more than a page."""
        after = self.decode(cursor)
        if after is not None:
            query = query.where(tuple_(*self.order) > tuple_(*self.bound(after)))
        return query.order_by(*self.order).limit(limit + 1)

    def page(self, rows: Sequence[Row], limit: int, item: Callable[[Row], Item]) -> Page[Item]:
        """The page of ``rows`` (as ``select`` fetched them) and the cursor after it."""
        items = [item(row) for row in rows[:limit]]
        after = self.encode(self.key(items[-1])) if len(rows) > limit else None
        return Page(items=items, next=after, limit=limit)
