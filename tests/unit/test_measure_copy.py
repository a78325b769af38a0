"""A copied measure (as the aggregate cache hands one to every command) shares nothing that changes."""

from __future__ import annotations

import copy
from uuid import uuid4

from domain.definition import parse_definition
from domain.measure import Measure
from domain.values import Basis, Direction, Quarter, Status, parse_amount


def a_measure() -> Measure:
    definition = parse_definition(
        title="Reduce Criminal Damage", description=None, direction=Direction.REDUCE, basis=Basis.YTD_PRO_RATA,
        tolerance=None, unit=None, components=[("total", "Offences"), ("youth", "Youth")],
    )  # fmt: skip
    m = Measure.define(
        plan_id=uuid4(), theme_code="5", number="5.1", definition=definition,
        discrepancy_threshold=parse_amount("10", None, None).value, actor="officer",
    )  # fmt: skip
    m.set_baseline("total", parse_amount("2472", None, None), actor="officer")
    m.submit_figure("total", Quarter.Q1, parse_amount("492", None, None), actor="officer")
    m.update_commentary(Quarter.Q1, "on course", actor="officer")
    m.collect_events()
    return m


def test_changing_a_copy_leaves_the_original_as_it_was() -> None:
    original = a_measure()
    before = (original.version, dict(original.figures), {k: list(v) for k, v in original.figure_history.items()},
              {k: list(v) for k, v in original.baselines.items()}, dict(original.commentary), dict(original.overrides),
              list(original.definitions))  # fmt: skip

    changed = copy.deepcopy(original)
    changed.revise_figure("total", Quarter.Q1, parse_amount("700", None, None), reason="late return", actor="o")
    changed.submit_figure("youth", Quarter.Q1, parse_amount("10", None, None), actor="o")
    changed.reset_baseline("total", parse_amount("2500", None, None), reason="recount", actor="o")
    changed.set_baseline("youth", parse_amount("40", None, None), actor="o")
    changed.update_commentary(Quarter.Q1, "behind", actor="o")
    changed.override_status(Quarter.Q1, Status.OFF_TRACK, reason="published so", actor="o")

    after = (original.version, dict(original.figures), {k: list(v) for k, v in original.figure_history.items()},
             {k: list(v) for k, v in original.baselines.items()}, dict(original.commentary), dict(original.overrides),
             list(original.definitions))  # fmt: skip
    assert after == before
    assert original.collect_events() == []
    assert changed.version == original.version + 6
    assert changed.figures != original.figures and changed.baselines != original.baselines
