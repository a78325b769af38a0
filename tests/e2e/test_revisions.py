"""Revisions over HTTP: only what is given changes, clearing is explicit, a revision that changes nothing is
refused and records nothing, and the quarter's lock still holds."""

from __future__ import annotations

from typing import Any

from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage, figure
from tests.e2e.live import GraphQLClient

Q1 = "Q1"


def reported(client: GraphQLClient) -> str:
    """5.1 with its Q1 figure of 492 offences, the report's change of -16.3 and a commentary."""
    mid: str = criminal_damage(client, a_plan(client))["id"]
    client.execute(
        doc.SUBMIT_FIGURE,
        {
            "input": {
                "measureId": mid,
                "component": "total",
                "quarter": Q1,
                "value": "492",
                "reportedChange": "-16.3",
                "commentary": "late crimes pending",
            }
        },
    )
    return mid


def revise(client: GraphQLClient, mid: str, reason: str = "recount", **given: Any) -> dict[str, Any]:
    data = client.execute(
        doc.REVISE_FIGURE, {"input": {"measureId": mid, "component": "total", "quarter": Q1, "reason": reason, **given}}
    )
    measure: dict[str, Any] = data["reviseFigure"]["measure"]
    return measure


def refused(client: GraphQLClient, mid: str, **given: Any) -> dict[str, Any]:
    variables = {"input": {"measureId": mid, "component": "total", "quarter": Q1, "reason": "why", **given}}
    errors = client.errors(doc.REVISE_FIGURE, variables)
    assert len(errors) == 1, errors
    return errors[0]


def shown(measure: dict[str, Any]) -> tuple[Any, ...]:
    f = figure(measure, "total", Q1)
    return f["value"], f["reportedChange"], f["commentary"], f["revision"]


HISTORY = """query($measureId: ID!) {
  auditTrail(filter: {measureId: $measureId, action: null}) {
    nodes { action component quarter field before after reason changes { field before after } }
  }
}"""


def audit_entries(client: GraphQLClient, mid: str) -> list[dict[str, Any]]:
    """The measure's figure entries of the audit trail, oldest first."""
    nodes = client.execute(HISTORY, {"measureId": mid})["auditTrail"]["nodes"]
    return [n for n in nodes if n["action"].startswith("Figure")]


def changes(entry: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(c["field"], c["before"], c["after"]) for c in entry["changes"]]


def test_a_revision_changes_only_the_fields_it_gives(shared_client: GraphQLClient) -> None:
    mid = reported(shared_client)

    by_value = revise(shared_client, mid, value="490")
    by_change = revise(shared_client, mid, reportedChange="-20.4", reason="report corrected")
    by_nulls = revise(shared_client, mid, commentary="recounted", value=None, reportedChange=None)

    assert shown(by_value) == ("490", "-16.3", "late crimes pending", 2)
    assert shown(by_change) == ("490", "-20.4", "late crimes pending", 3)
    assert shown(by_nulls) == ("490", "-20.4", "recounted", 4)


def test_a_field_is_removed_only_by_naming_it_in_clear(shared_client: GraphQLClient) -> None:
    mid = reported(shared_client)

    cleared = revise(shared_client, mid, clear=["REPORTED_CHANGE", "COMMENTARY"], reason="the report states none")

    assert shown(cleared) == ("492", None, None, 2)


def test_a_revision_that_changes_nothing_is_refused_and_records_nothing(shared_client: GraphQLClient) -> None:
    mid = reported(shared_client)
    version = shared_client.execute(doc.MEASURE, {"id": mid})["measure"]["version"]

    same = refused(shared_client, mid, value="492.0", reportedChange="-16.30")
    nothing = refused(shared_client, mid)

    for error in (same, nothing):
        assert error["extensions"] == {"code": "VALIDATION", "field": "input"}
        assert error["message"].startswith("input: changes nothing")
    assert shared_client.execute(doc.MEASURE, {"id": mid})["measure"]["version"] == version


def test_a_revision_that_contradicts_itself_or_empties_the_figure_is_refused_naming_the_field(
    shared_client: GraphQLClient,
) -> None:
    mid = reported(shared_client)

    both = refused(shared_client, mid, reportedChange="-20", clear=["REPORTED_CHANGE"])
    empty = refused(shared_client, mid, clear=["VALUE"])
    blank = refused(shared_client, mid, commentary="  ")
    unknown = refused(shared_client, mid, clear=["SIZE"])

    assert both["extensions"] == {"code": "VALIDATION", "field": "clear"}
    assert "REPORTED_CHANGE is both given and cleared" in both["message"]
    assert empty["extensions"] == {"code": "VALIDATION", "field": "clear"}
    assert "markFigureUnavailable" in empty["message"]
    assert blank["extensions"] == {"code": "VALIDATION", "field": "commentary"}
    assert unknown["extensions"]["code"] == "VALIDATION" and unknown["extensions"]["field"].startswith("clear")


def test_a_locked_quarter_refuses_a_revision_before_anything_else(shared_client: GraphQLClient) -> None:
    mid = reported(shared_client)
    shared_client.execute(doc.SUBMIT_RETURN, {"input": {"measureId": mid, "quarter": Q1}})

    locked = refused(shared_client, mid, reportedChange="-20")
    unchanged = refused(shared_client, mid)

    for error in (locked, unchanged):
        assert error["extensions"] == {"code": "LOCKED", "field": "quarter", "returnState": "SUBMITTED"}


def test_each_revision_s_audit_entry_lists_every_field_it_changed_with_before_and_after(
    shared_client: GraphQLClient,
) -> None:
    mid = reported(shared_client)
    revise(shared_client, mid, reportedChange="-20.4", reason="report corrected")
    revise(shared_client, mid, value="490", commentary="recounted", reason="recount")
    revise(shared_client, mid, clear=["REPORTED_CHANGE"], reason="the report states none")
    shared_client.execute(
        doc.MARK_UNAVAILABLE, {"input": {"measureId": mid, "component": "total", "quarter": Q1, "reason": "withdrawn"}}
    )
    revise(shared_client, mid, numerator="13", denominator="21", clear=["VALUE"], reason="as a fraction")
    refused(shared_client, mid, numerator="13")

    submitted, only_change, value_and_text, cleared, unavailable, fraction = audit_entries(shared_client, mid)

    assert changes(submitted) == [
        ("value", None, "492"),
        ("reportedChange", None, "-16.3"),
        ("commentary", None, "late crimes pending"),
        ("availability", None, "available"),
    ]
    assert (only_change["action"], only_change["reason"], only_change["before"], only_change["after"]) == (
        "FigureRevised",
        "report corrected",
        "492",
        "492",
    )
    assert changes(only_change) == [("reportedChange", "-16.3", "-20.4")]
    assert changes(value_and_text) == [("value", "492", "490"), ("commentary", "late crimes pending", "recounted")]
    assert changes(cleared) == [("reportedChange", "-20.4", None)]
    assert changes(unavailable) == [("value", "490", None), ("availability", "available", "unavailable: withdrawn")]
    assert changes(fraction) == [
        ("numerator", None, "13"),
        ("denominator", None, "21"),
        ("availability", "unavailable: withdrawn", "available"),
    ]
    assert (fraction["before"], fraction["after"]) == ("unavailable: withdrawn", "13/21")
