"""Pages by cursor: what every connection says about its page, and the connection of a list that grows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

import strawberry

from domain.errors import DomainError
from service import audit_trail as trail
from service.schema.descriptions import CONNECTION_AFTER, CONNECTION_FIRST
from service.schema.errors import error, from_domain

# Entries a page holds when `first` is not given, and at most: the same for every connection of the ledger.
DEFAULT_PAGE, MAX_PAGE = trail.DEFAULT_PAGE, trail.MAX_PAGE

T = TypeVar("T")

# The arguments of a paged list: `first: First = None, after: After = None`.
First = Annotated[int | None, strawberry.argument(description=CONNECTION_FIRST)]
After = Annotated[str | None, strawberry.argument(description=CONNECTION_AFTER)]


def page_size(first: int | None) -> int:
    """How many entries a page of `first` holds: VALIDATION below 0, LIMIT_EXCEEDED above MAX_PAGE."""
    try:
        size = trail.page_size(first)
    except DomainError as e:
        raise from_domain(e) from None
    if size > MAX_PAGE:
        raise error("LIMIT_EXCEEDED", f"first: at most {MAX_PAGE} entries a page, not {size}", "first", limit=MAX_PAGE)
    return size


@strawberry.type(
    description="Where a page starts and ends, and whether entries come before or after it. Every connection "
    "pages forward: pass `endCursor` as `after` for the next page while `hasNextPage` is true."
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when more entries follow this page now; false at the end (entries recorded later "
        "still come after `endCursor`)."
    )
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for after a cursor (`after`), so entries come before it."
    )
    start_cursor: str | None = strawberry.field(description="The cursor of the page's first entry; null if empty.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page: the cursor of the page's last entry; on an empty page, "
        "the `after` that was given."
    )

    @classmethod
    def of(cls, cursors: Sequence[str], after: str | None, more: bool) -> PageInfo:
        """The page info of a forward page whose entries have these cursors, asked for after `after`."""
        return cls(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else after,
        )


# Generic, so that each list gets its own pair of types, named after it by strawberry: `Connection[Plan]` is
# `PlanConnection`, its edges `PlanEdge`.
@strawberry.type(description="One entry of a page, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="The entry's cursor: pass it as `after` for the entries after it.")
    node: T = strawberry.field(description="The entry.")


class Paged(Generic[T]):
    """How a connection type's page is made: its edges (of `edge`, whose type a named connection names too:
    AuditConnection's are AuditEdge) and their PageInfo."""

    edge: ClassVar[type[Edge[Any]]] = Edge

    @classmethod
    def of(cls, nodes: Sequence[T], cursor: Callable[[T], str], after: str | None, more: bool) -> Self:
        """The page of these entries, asked for after `after`; `more` if entries follow it."""
        edges = [cls.edge(cursor=cursor(node), node=node) for node in nodes]
        return cls(edges=edges, page_info=PageInfo.of([e.cursor for e in edges], after, more))  # type: ignore[call-arg]


@strawberry.type(description="A page of a list, oldest first, read forward by cursor: see `PageInfo`.")
class Connection(Paged[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's entries with their cursors, oldest first.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends, and whether more follow.")

    @strawberry.field(description="The page's entries, without their edges.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]
