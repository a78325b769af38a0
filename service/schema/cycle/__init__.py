"""The quarterly reporting cycle: owners, returns, collections and publications (types, queries, mutations)."""
