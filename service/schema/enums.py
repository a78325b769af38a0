"""The contract's enums, straight from the domain's."""

from __future__ import annotations

import strawberry

from domain import values

Quarter = strawberry.enum(values.Quarter, description="A quarter of the plan's financial year.")
Direction = strawberry.enum(values.Direction, description="Which way a measure aims.")
Basis = strawberry.enum(values.Basis, description="How a quarter's figure is compared with the baseline.")
Status = strawberry.enum(values.Status, description="The verdict for a measure or component in a quarter.")
