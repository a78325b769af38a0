"""The ledger's own record: the append-only event store, its SHA-256 hash chain, and the chain's verifier."""
