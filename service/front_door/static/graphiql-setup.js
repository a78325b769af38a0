// GraphiQL for Measure Ledger, served by the service itself (no CDN). Queries and mutations go over HTTP,
// subscriptions over graphql-transport-ws; both carry the headers of GraphiQL's Headers tab, which for a
// subscription become the connection_init payload the service reads the token from.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var http = new URL(root.getAttribute("data-endpoint"), window.location.href);
  var ws = new URL(http.href);
  ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({ url: http.href, subscriptionUrl: ws.href });
  var defaultQuery = [
    "# Measure Ledger: partnership plans' measures,",
    "# an event-sourced ledger over GraphQL.",
    "#",
    "# Every request needs a token. Put it in the",
    "# Headers tab below:",
    '#   {"Authorization": "Bearer mlt_…"}',
    "# (`measure-ledger serve` prints one.)",
    "# Docs (top left) describe every type and field.",
    "",
    "query Plans {",
    "  plans {",
    "    id",
    "    title",
    "    partnership",
    "    measures {",
    "      number",
    "      title",
    "      status",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers",
      // A token pasted into the Headers tab stays in this tab's memory only, never in the browser's storage.
      shouldPersistHeaders: false,
    })
  );
})();
