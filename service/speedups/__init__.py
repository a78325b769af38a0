"""The execution speed-ups, in one room: installed on a built schema in one call, or not at all.

Each leaves every answer exactly as the plain schema (service/schema/) gives
it, errors included (tests/e2e/test_speedups.py compares the two), and each
works on the schema graphql-core and strawberry build, so each relies on
their internals (tests/unit/test_library_internals.py checks those):

- fast_fields.py, completers.py: plain fields completed without graphql-core's
  per-field machinery;
- read_ahead.py: a resolver's measures get their components, quarters,
  baselines and figures ready-made, from one query per table;
- lean_resolvers.py: resolvers without arguments called directly, and those of
  the object alone (a write's payload object) completed as plain fields;
- fast_inputs.py: mutation inputs built from a field table;
- shared_results.py: a live subscription message executed once per operation,
  not once per subscriber;
- short_caches.py: parsed and validated documents kept, if short;
- compiled_reads.py: `plan(id)` with a plain selection answered by one SQL
  statement that builds its JSON;
- live_delivery.py: graphql-transport-ws without Strawberry's per-connection
  handler, each live row executed and encoded once and its frame written to
  every subscribed socket (installed by service/app.py, as an ASGI middleware);
- parallel_writes.py: those frames written to the sockets from two threads.

`ML_SPEEDUPS=0` turns them all off (service/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import strawberry

from service.schema.audit.types import AuditEntry
from service.schema.subscriptions.types import StatusChange
from service.speedups.compiled_reads import Compiled, install_compiled_reads
from service.speedups.fast_inputs import speed_up_inputs
from service.speedups.lean_resolvers import lighten
from service.speedups.read_ahead import install_read_ahead
from service.speedups.shared_results import SharedResultsExecutionContext
from service.speedups.short_caches import caches


class LedgerExecutionContext(SharedResultsExecutionContext):
    """Plain fields completed directly; a live StatusChange or AuditEntry executed once per operation."""

    shared_types: ClassVar[tuple[type, ...]] = (StatusChange, AuditEntry)

    def complete_value(self, *args: Any) -> Any:
        # (return type, field details, info, path, result, position context): a compiled read is complete.
        result = args[4]
        if type(result) is Compiled:
            return result.value()
        return super().complete_value(*args)


@dataclass(frozen=True)
class Installed:
    """What `install` changed, for a test to see the speed-ups are in place."""

    lean_resolvers: int
    reading_ahead: int  # resolvers of measures
    input_types: int
    compiled_reads: int  # root fields answered by compiled statements where they can be


def install(schema: strawberry.Schema) -> Installed:
    """Install every speed-up on a schema built by service.schema.build_schema; once, before it serves."""
    assert schema.execution_context_class is not LedgerExecutionContext, "the speed-ups are installed already"
    # Plain fields completed directly, and a live message executed once per operation and event.
    schema.execution_context_class = LedgerExecutionContext
    # Appended: the limits stay first, refusing an overlong document before the cache parses it.
    schema.extensions = (*schema.extensions, *caches())
    # Direct calls first, so that read-ahead wraps the call graphql-core makes.
    lean = lighten(schema)
    return Installed(
        lean_resolvers=lean,
        reading_ahead=install_read_ahead(schema),
        input_types=speed_up_inputs(schema),
        compiled_reads=install_compiled_reads(schema),
    )
