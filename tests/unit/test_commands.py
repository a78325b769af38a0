"""Commands are fingerprinted whole, and as idempotency keys already stored were."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from domain import commands
from domain.definition import parse_definition
from domain.values import Basis, Direction, Quarter, Status, parse_amount

PLAN = UUID("807dca84-5c78-51c8-aa7e-45a12948cf63")
MEASURE = UUID("61519f2f-fb26-5102-afca-068dfe0f66e6")
COMPONENTS: list[tuple[object, object]] = [("total", "Total"), ("violence", "Violence")]
DEFINED = parse_definition(
    title="Total crime",
    description="All notifiable offences",
    direction=Direction.REDUCE,
    basis=Basis.YTD_PRO_RATA,
    tolerance=Decimal("5"),
    unit="offences",
    components=COMPONENTS,
)
REDEFINED = parse_definition(
    title="Total crime (all)",
    description=None,
    direction=Direction.REDUCE,
    basis=Basis.YTD_PRO_RATA,
    tolerance=Decimal("2.5"),
    unit=None,
    components=COMPONENTS,
)
QUARTERS = [Decimal("0.25")] * 4

# Each command with the fingerprint its idempotency key was stored under before commands were
# classes (the Ledger then hashed a dict of short argument names): these keys are in stored ledgers.
STORED = [
    (
        commands.CreatePlan(
            partnership="Safer Bexley",
            title="Plan 2012-13",
            year="2012-13",
            period_start=date(2012, 4, 1),
            period_end=date(2013, 3, 31),
            discrepancy_threshold=Decimal("0.5"),
        ),
        "5ece8f52e41ed52b089bb79e2fc4db2635992f476787d24ef4246829d62abbe6",
    ),
    (
        commands.AddTheme(PLAN, code="5", title="Reduce crime"),
        "d158230f95acbf3ff5f67b3d6cb26a1472ea8e3974682463d32a9a37fbe5a471",
    ),
    (
        commands.DefineMeasure(PLAN, theme_code="5", number="5.1", definition=DEFINED),
        "875492f27d0c03ecc6134a235ad71d2e7e3b2beab4ee9d29f65ec967304a58f7",
    ),
    (
        commands.RedefineMeasure(MEASURE, REDEFINED, reason="wider scope"),
        "99547ab541b50b32fb0785e93da55b694588fc05f31577663f3e85e8101c1e05",
    ),
    (
        commands.SetBaseline(
            MEASURE,
            "total",
            parse_amount(Decimal("1000"), None, None),
            period="2011-12",
            profile=QUARTERS,
            note="police data",
        ),
        "ed21b285a0b59a92c8b07ee7dd32f7a190bea3c9a787f260c2c37a4a152b326f",
    ),
    (
        commands.ResetBaseline(
            MEASURE,
            "total",
            parse_amount(Decimal("62"), Decimal("13"), Decimal("21")),
            reason="recount",
            period="2011-12",
        ),
        "419d116a26d05009dece6eec39826369ba97cd39ca79edc34f8d0091b10fba5b",
    ),
    (
        commands.SubmitFigure(
            MEASURE,
            "total",
            Quarter.Q1,
            parse_amount(Decimal("600"), None, None),
            reported_change=Decimal("-4.5"),
            commentary="a good start",
        ),
        "4108728bbb8130551733e050561790558002ece91f4776ac0492f222a07868f5",
    ),
    (
        commands.ReviseFigure(
            MEASURE,
            "total",
            Quarter.Q1,
            parse_amount(None, Decimal("13"), Decimal("21")),
            reason="typo",
            commentary="corrected",
        ),
        "2dfe748689d8864caeecda8115b6a4500c8e605d5ae8c7bccb7dfb4e91ddc029",
    ),
    (
        commands.MarkFigureUnavailable(MEASURE, "violence", Quarter.Q2, reason="system down"),
        "d77a56867d1ddb6d2aace354afc996e18fa56a500d39ce2a7ba4c85f8e4c1d56",
    ),
    (
        commands.UpdateCommentary(MEASURE, Quarter.Q2, "late data"),
        "c75d268799ed84bc045582755d48e40623218302fa9c62971109041e2a5bdee3",
    ),
    (
        commands.OverrideStatus(MEASURE, Quarter.Q1, Status.AT_RISK, reason="board view"),
        "ab37e4437b81b6a767811709ecfde76898012d5c8c02cf2a8653a909a53e2584",
    ),
    (
        commands.ClearStatusOverride(MEASURE, Quarter.Q1, reason="withdrawn"),
        "9873acf7ef57b2ef904c0bc1bff49f27c11601f3ba715a046d960d3bb1d324ba",
    ),
]


@pytest.mark.parametrize(("command", "stored"), STORED, ids=[c.name for c, _ in STORED])
def test_a_command_fingerprints_as_its_key_was_stored_before_commands_were_classes(
    command: commands.Command, stored: str
) -> None:
    assert command.fingerprint() == stored


@pytest.mark.parametrize("command", [c for c, _ in STORED], ids=[c.name for c, _ in STORED])
def test_changing_any_value_of_a_command_changes_its_fingerprint(command: commands.Command) -> None:
    for field in dataclasses.fields(command):
        changed = dataclasses.replace(command, **{field.name: "something else"})
        assert changed.fingerprint() != command.fingerprint(), field.name
