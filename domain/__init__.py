"""The pure domain of Measure Ledger: aggregates, events and the rules of spec/domain.md."""
