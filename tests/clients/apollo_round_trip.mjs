// Apollo Client against a live service, as a frontend uses it: a dashboard query, a revision through the
// mutation, the dashboard read again from the normalized cache, then from the network. Every request the
// links send is recorded, to show the automatic persisted queries' round trips. Run by test_apollo.py:
//   node apollo_round_trip.mjs URL TOKEN PLAN_ID MEASURE_ID OPERATIONS_DIR
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token, planId, measureId, operations] = process.argv.slice(2);
const read = (name) => readFileSync(`${operations}/${name}.graphql`, "utf8");
// An operation with the fragment it spreads, as GraphQL Code Generator reads them together from the folder.
const load = (name) => gql(read(name) + read("measure-figures"));

const requests = [];
async function recordingFetch(input, init = {}) {
  const sent = new URL(String(input));
  const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
  const extensions = body ? body.extensions : JSON.parse(sent.searchParams.get("extensions") ?? "null");
  const response = await fetch(input, init);
  const answer = JSON.parse((await response.clone().text()) || "{}");
  requests.push({
    method: init.method ?? "GET",
    hashed: Boolean(extensions?.persistedQuery),
    withQuery: Boolean(body ? body.query : sent.searchParams.get("query")),
    status: response.status,
    code: answer.errors?.[0]?.extensions?.code ?? null,
    etag: response.headers.get("etag"),
  });
  return response;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const client = new ApolloClient({
  link: ApolloLink.from([
    new PersistedQueryLink({ sha256, useGETForHashedQueries: true }),
    new HttpLink({
      uri: `${url}/graphql`,
      headers: { authorization: `Bearer ${token}`, "apollographql-client-name": "measure-ledger-tests" },
      fetch: recordingFetch,
    }),
  ]),
  cache: new InMemoryCache(),
});

const Dashboard = load("dashboard");
const q2 = (data) =>
  data.plan.measures.find((m) => m.id === measureId).components[0].figures.find((f) => f.quarter === "Q2");
const variables = { planId };
const marks = {};

const first = await client.query({ query: Dashboard, variables });
marks.query = requests.length;
await client.mutate({
  mutation: load("revise-figure"),
  variables: { input: { measureId, component: "total", quarter: "Q2", value: "1001", reason: "late crimes recorded" } },
});
marks.mutation = requests.length;
const fromCache = await client.query({ query: Dashboard, variables }); // cache-first: no request
marks.cacheRead = requests.length;
const fromNetwork = await client.query({ query: Dashboard, variables, fetchPolicy: "network-only" });
marks.networkRead = requests.length;

console.log(
  JSON.stringify({
    before: q2(first.data).value,
    fromCache: q2(fromCache.data).value,
    fromNetwork: q2(fromNetwork.data).value,
    normalized: Object.keys(client.cache.extract()).filter((key) => key.startsWith("Measure:")),
    marks,
    requests,
  }),
);
