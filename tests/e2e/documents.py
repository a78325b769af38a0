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
