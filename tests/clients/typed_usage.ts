// What a frontend's code does with the types GraphQL Code Generator writes from schema.graphql and
// examples/operations/: tests/clients/test_codegen.py compiles it with tsc, strict.
import type { ResultOf, VariablesOf } from "@graphql-typed-document-node/core";
import { DashboardDocument, ReviseFigureDocument, StatusChangedDocument } from "./src/gql/graphql";
import type { Quarter, Status } from "./src/gql/graphql";

type Dashboard = ResultOf<typeof DashboardDocument>;

export function figuresOf(data: Dashboard, quarter: Quarter): Array<{ number: string; value: string | null | undefined; status: Status }> {
  return (data.plan?.measures ?? []).flatMap((measure) =>
    measure.components.flatMap((component) =>
      component.figures
        .filter((figure) => figure.quarter === quarter)
        .map((figure) => ({ number: measure.number, value: figure.value, status: figure.status })),
    ),
  );
}

export const periodStart = (data: Dashboard): string | undefined => data.plan?.period.start;

export const revision: VariablesOf<typeof ReviseFigureDocument> = {
  input: { measureId: "m", component: "criminal-damage", quarter: "Q2", value: "1001", reason: "late crimes recorded" },
};

export const asNumber: VariablesOf<typeof ReviseFigureDocument> = {
  // @ts-expect-error a Decimal travels as a string, never a number that would lose its digits
  input: { measureId: "m", component: "criminal-damage", quarter: "Q2", value: 1001, reason: "late crimes recorded" },
};

export const badQuarter: VariablesOf<typeof ReviseFigureDocument> = {
  // @ts-expect-error a quarter is one of Q1 to Q4
  input: { measureId: "m", component: "criminal-damage", quarter: "Q5", value: "1001", reason: "late crimes recorded" },
};

export const clearing: VariablesOf<typeof ReviseFigureDocument> = {
  input: { measureId: "m", component: "criminal-damage", quarter: "Q2", reason: "the report states none", clear: ["REPORTED_CHANGE"] },
};

export const badClear: VariablesOf<typeof ReviseFigureDocument> = {
  // @ts-expect-error only a figure's fields can be cleared
  input: { measureId: "m", component: "criminal-damage", quarter: "Q2", reason: "x", clear: ["STATUS"] },
};

export const resumeAfter = (last: ResultOf<typeof StatusChangedDocument>): VariablesOf<typeof StatusChangedDocument> => ({
  after: last.statusChanged.cursor,
});
