"""Read models of the ledger, written by eventsourcing projections with exactly-once tracking."""
