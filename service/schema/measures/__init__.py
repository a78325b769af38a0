"""Measures: a measure's definition, its components, baselines, figures and quarterly results (types),
reading one (queries), defining and redefining it (mutations)."""
