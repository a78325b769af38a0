"""The pure domain of Measure Ledger: aggregates, events and the rules of docs/rules.md."""
