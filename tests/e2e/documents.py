"""GraphQL documents the tests send, as a frontend would."""

MEASURE_FIELDS = """
fragment MeasureFields on Measure {
  id number title direction basis tolerance unit status version
  components {
    key label
    baseline { value numerator denominator period note isReset reason recordedBy discrepancy }
    baselineHistory { value isReset reason }
    figures { quarter value numerator denominator available unavailableReason comparisonValue change
              reportedChange discrepancy discrepancyReason status rule commentary revision reason recordedBy }
  }
  quarters { quarter status computedStatus override { status reason recordedBy } commentary
             components { key figure { value change } } }
}
"""

CREATE_PLAN = """mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { position version replayed plan { id title partnership version themes { code } } }
}"""

ADD_THEME = """mutation($input: AddThemeInput!) {
  addTheme(input: $input) { position version plan { id version themes { code title } } }
}"""


def measure_mutation(name: str, input_type: str) -> str:
    head = f"mutation($input: {input_type}!) {{ {name}(input: $input) "
    return head + "{ position version replayed measure { ...MeasureFields } } }" + MEASURE_FIELDS


DEFINE_MEASURE = measure_mutation("defineMeasure", "DefineMeasureInput")
REDEFINE_MEASURE = measure_mutation("redefineMeasure", "RedefineMeasureInput")
SET_BASELINE = measure_mutation("setBaseline", "SetBaselineInput")
RESET_BASELINE = measure_mutation("resetBaseline", "ResetBaselineInput")
SUBMIT_FIGURE = measure_mutation("submitFigure", "SubmitFigureInput")
REVISE_FIGURE = measure_mutation("reviseFigure", "ReviseFigureInput")
MARK_UNAVAILABLE = measure_mutation("markFigureUnavailable", "MarkFigureUnavailableInput")
UPDATE_COMMENTARY = measure_mutation("updateCommentary", "UpdateCommentaryInput")
OVERRIDE_STATUS = measure_mutation("overrideStatus", "OverrideStatusInput")
CLEAR_OVERRIDE = measure_mutation("clearStatusOverride", "ClearStatusOverrideInput")

MEASURE = "query($id: ID!) { measure(id: $id) { ...MeasureFields } }" + MEASURE_FIELDS

DASHBOARD = (
    """query($id: ID!) {
  plan(id: $id) {
    id title partnership year period { start end } version
    themes { code title measures { id number } }
    measures { ...MeasureFields }
  }
}"""
    + MEASURE_FIELDS
)

# -- the reporting cycle

return_fields = "returns { quarter state submittedBy missing actedBy reason locked } owner { principal agency }"
cycle_measure = "{ position version measure { id number " + return_fields + " } }"
ASSIGN_OWNER = "mutation($input: AssignOwnerInput!) { assignOwner(input: $input) " + cycle_measure + " }"
SUBMIT_RETURN = "mutation($input: ReturnInput!) { submitReturn(input: $input) " + cycle_measure + " }"
APPROVE_RETURN = "mutation($input: ReturnInput!) { approveReturn(input: $input) " + cycle_measure + " }"
SEND_BACK_RETURN = "mutation($input: ReturnWithReasonInput!) { sendBackReturn(input: $input) " + cycle_measure + " }"
REOPEN_RETURN = "mutation($input: ReturnWithReasonInput!) { reopenReturn(input: $input) " + cycle_measure + " }"
OPEN_COLLECTION = """mutation($input: OpenCollectionInput!) {
  openCollection(input: $input) { position plan { id collections { quarter dueOn openedBy } } } }"""
CHANGE_DUE_DATE = """mutation($input: ChangeDueDateInput!) {
  changeDueDate(input: $input) { position plan { id collections { quarter dueOn dueDateChangeReason } } } }"""
publication_fields = """id planId quarter title presentedOn position digest forced reason publishedBy publishedAt
  outstanding { measureNumber state }"""
PUBLISH_QUARTER = (
    "mutation($input: PublishQuarterInput!) { publishQuarter(input: $input) { position publication { "
    + publication_fields
    + " } plan { publications { id } } } }"
)
RETURNS = """query($planId: ID!, $quarter: Quarter!) { returns(planId: $planId, quarter: $quarter) {
  quarter dueOn today overdue
  counts { total outstanding submitted approved sentBack reopened }
  agencies { agency counts { total approved } }
  measures { number owner agency state submittedBy actedBy reason overdue components { key entry } } } }"""
CHANGES_SINCE = """query($id: ID!, $first: Int, $after: String) { changesSince(publicationId: $id, first: $first,
  after: $after) { nodes { position actor action measureNumber quarter field before after reason }
  pageInfo { hasNextPage endCursor } } }"""
PUBLISHED_PLAN = (
    """query($id: ID!, $publication: ID) { plan(id: $id, publication: $publication) {
  id version publications { id quarter title }
  measures { ...MeasureFields """
    + return_fields
    + """ components { key figures { quarter value revision revisedAfterPublication } } } } }"""
    + MEASURE_FIELDS
)
