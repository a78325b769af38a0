"""Plans: a partnership's plan for a reporting year and its themes (types, queries, mutations)."""
