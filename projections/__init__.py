"""Read models of the ledger, written by eventsourcing projections with exactly-once tracking.

"View" is eventsourcing's word, and this project's: a projection's tracking recorder and the
tables it writes.

The current-state projection and its view:
- `current_state.py`: each event applied to its aggregate, its rows made, written with its position;
- `measure_rows.py`: which of a measure's rows an event reaches; `rows.py`: one row builder per table;
- `row_changes.py`: a batch's row changes, written by COPY or INSERT; `background_writer.py`;
- `view.py`: the view, opened at the code's version of `read_model_tables.py`.

Running it:
- `runner.py`: one leader among all processes (`locks.py`; `stall.py` replaces a stuck one), which
  catches up (`catch_up.py`), then follows the store live (`live.py`), both through `event_reader.py`;
- `rebuild.py`: the read model from nothing, in shares; `beside.py`: a new one built beside the served
  one and swapped in, taking the lead from a running service (`handover.py`);
- `runtime.py`: process and collector settings.

`ledger_store/`: the event store itself, its hash chain and their verifier; `persistence.py` (with
`group_commit.py`): the Ledger as a service process runs it, many threads writing at once.
"""
