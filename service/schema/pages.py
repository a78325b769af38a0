"""What every cursor-paginated connection says about its page."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Where a page ends, and whether another follows it.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; on an empty page, the `after` that was given."
    )
