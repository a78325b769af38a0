"""Descriptions many fields and arguments of the schema share, written once.

Every type, field, argument and enum value of the schema is described for
the frontend developer who reads it in GraphiQL or generated code: units,
what null means, formats, and which role may see or do it
(tests/unit/test_schema_described.py fails on any that is not).
"""

from __future__ import annotations

EXPECTED_MEASURE_VERSION = (
    "The measure's `version` as the client last read it: if the measure has changed since, nothing is written "
    "and the error is CONFLICT naming the current version. Null: no check."
)
EXPECTED_PLAN_VERSION = (
    "The plan's `version` as the client last read it: if the plan has changed since, nothing is written and "
    "the error is CONFLICT naming the current version. Null: no check."
)
IDEMPOTENCY_KEY = (
    "A key of the client's choosing, e.g. a UUID made once per form submission: a retry with the same key "
    "returns the first result (`replayed: true`) and records nothing new. Null: every call records."
)
MEASURE_ID = "The measure's `id`."
PLAN_ID = "The plan's `id`."
# A plan's own fields, as Plan shows them and CreatePlanInput takes them (each adds its own ending).
PLAN_TITLE = "The plan's title, e.g. `Community Safety Plan 2012-13`"
PLAN_YEAR = "The reporting year as the plan names it, e.g. `2012-13`."
DISCREPANCY_THRESHOLD = (
    "How far a report's own arithmetic may be off before it is flagged, in the change's unit (percent, or points "
    "for RATE)"
)
COMPONENT_KEY = "The component's `key`, e.g. `criminal-damage`: one of the measure's components."
RECORDED_AT = "When the ledger recorded it, in UTC."
RECORDED_BY = "Who recorded it: the principal's name, e.g. `alice@stockton.gov.uk`."
ACTOR = "Who caused the event: the principal's name, e.g. `alice@stockton.gov.uk`."
ACTION = "The event's name, e.g. `FigureRevised` (past tense; `AuditFilter.action` takes the same names)."
ENTRY_PLAN_ID = "The plan the event concerns; null for an event of no plan."
ENTRY_MEASURE_ID = "The measure the event concerns; null for a plan-level event (a plan, a theme, a collection)."
ENTRY_MEASURE_NUMBER = "That measure's number as it was then, e.g. `5.1`; null when no measure."
ENTRY_COMPONENT = "The component the event concerns (a baseline's or a figure's); null otherwise."
ENTRY_QUARTER = "The quarter the event concerns (a figure, a commentary, an override, a return); null otherwise."
ENTRY_FIELD = (
    "What the event changed, e.g. `figure`, `baseline`, `commentary`, `status`, `definition`; `before` and "
    "`after` are its values."
)
ENTRY_REASON = "Why, as the actor gave it; null where the event needs no reason (a first submission)."
VALUE = (
    "A count, or a rate in percent (at most 100), as a decimal string. Give a value, or a numerator and a "
    "denominator, or all three (the value is then checked against the fraction)."
)
NUMERATOR = "A rate's numerator, at most its denominator; with `denominator`, the rate is worked out from them."
DENOMINATOR = "A rate's denominator, greater than zero; with `numerator`."
BASELINE_PERIOD = "What period the baseline covers, as free text, e.g. `2011/12`; null if not said."
BASELINE_PROFILE = (
    "Four non-negative amounts, Q1 to Q4, that share out a year's baseline for YTD_PRO_RATA (instead of a "
    "quarter each); null: an even share."
)
BASELINE_NOTE = "A note on where the baseline comes from; null if none."
REPORTED_CHANGE = (
    "The change the report itself states, in percent (points for RATE), e.g. `-16.3`; it is only compared with "
    "the computed change (a discrepancy is flagged), never used. Null: none stated."
)
FIGURE_COMMENTARY = "The officer's note on this figure; null for none."
MUTATION_INPUT = "What to record: see the input type's fields."
PAYLOAD_VERSION = "The object's version after the write (pass it as `expectedVersion` next time)."
STATUS_BEFORE_OVERRIDE = "The status the rules computed, whatever an override says."
THEME_CODE = "The theme's code within its plan, e.g. `5`."
MEASURE_NUMBER = "The measure's number, unique in its plan, e.g. `5.1`."
MEASURE_TITLE = "The measure's title, e.g. `Reduce Criminal Damage`."
DIRECTION = "Which way the measure aims: it decides how a change is judged (docs/rules.md)."
BASIS = "How each quarter's figure is compared with the baseline (docs/rules.md)."
TOLERANCE = (
    "The band around the comparison value that counts as at risk: percent, or percentage points for RATE; 0 to "
    "100. Null in an input: 5."
)
UNIT = "What the figures count, e.g. `crimes`, `%`; display only; null if not said."
MEASURE_DESCRIPTION = "A longer description of the measure; null for none."
COMPONENTS = "The measure's components, each with a unique key: at least one."
RETURN_STATE = "Where the return stands: OUTSTANDING until first submitted."
SUBMITTED_BY = "Who last submitted the return; null until submitted."
SUBMITTED_AT = "When it was last submitted (UTC); null until submitted."
ACTED_AT = "When it was last submitted, approved, sent back or reopened (UTC); null while OUTSTANDING."
RETURN_REASON = "Why it was last sent back or reopened; null otherwise."
CONNECTION_FIRST = "How many entries the page holds: default 50, at most 500 (LIMIT_EXCEEDED above), 0 or more."
CONNECTION_AFTER = (
    "A cursor from this list (`pageInfo.endCursor`, an entry's `cursor`): the page starts after it. Null: from "
    "the start. A malformed one is VALIDATION."
)
STATUS_CHANGE_AFTER = (
    "A status change's `cursor` (from `statusChanges` or `statusChanged`): start after it. Null: from the start "
    "(the query) or from now (the subscription)."
)
WEBHOOK_ID = "The webhook's `id`."
