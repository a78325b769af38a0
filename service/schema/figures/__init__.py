"""Quarterly reporting on a measure: baselines, figures, commentary and status overrides (mutations).

Their types are part of a measure's (service/schema/measures/types.py).
"""
