"""The front door: a page at `/` saying what this is, GraphiQL on `/graphql`, the schema and the docs.

Everything a browser loads comes from the service itself (GraphiQL and React are package data, see
vendor/README.md), so it all works on a network with no internet. The pages allow scripts from the service
alone (Content-Security-Policy); GraphiQL needs inline styles.

- `/`: what this is, and links to GraphiQL, `/schema.graphql`, `/health` and the docs;
- `/graphql` (a browser's GET): GraphiQL, when `ML_GRAPHIQL` is on;
- `/schema.graphql`: the schema as SDL, when introspection is on (off, the schema is not given out here either);
- `/docs/`: README.md and docs/*.md of a source checkout, as text;
- `/assets/{version}/{name}`: the files the pages load (assets.py).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from string import Template
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from service.front_door.assets import Assets
from service.settings import Settings

PAGE_HEADERS: Final = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# The checkout a service runs from (`pip install -e .`, as the README sets it up); an installed wheel has none.
CHECKOUT: Final = Path(__file__).resolve().parents[2]
DOCUMENT: Final = re.compile(r"[a-z0-9][a-z0-9-]*\.md")


def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


def _page(title: str, body_class: str, stylesheets: list[str], body: str, **values: str) -> HTMLResponse:
    """A page of the front door: templates/page.html around the body template `body`, filled with `values`."""
    page = _template("page.html").substitute(
        title=title,
        stylesheets="\n".join(f'<link rel="stylesheet" href="{url}">' for url in stylesheets),
        body_class=body_class,
        body=_template(body).substitute(values),
    )
    return HTMLResponse(page, headers=PAGE_HEADERS)


def documents() -> dict[str, Path]:
    """README.md and docs/*.md of the checkout, by the name `/docs/` serves them under."""
    found: dict[str, Path] = {}
    if (CHECKOUT / "README.md").is_file() and (CHECKOUT / "pyproject.toml").is_file():
        found["README.md"] = CHECKOUT / "README.md"
        for path in sorted((CHECKOUT / "docs").glob("*.md")):
            if DOCUMENT.fullmatch(path.name):
                found[path.name] = path
    return found


@functools.cache
def shared_assets() -> Assets:
    """The files, read (and, once asked for, compressed) once per process, however many apps it makes."""
    return Assets()


class FrontDoor:
    """The pages and files of the front door, for one service's settings."""

    def __init__(self, settings: Settings, sdl: Callable[[], str]) -> None:
        self.settings, self._sdl = settings, sdl
        self.assets = shared_assets()
        self.documents = documents()

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index),
            Route("/schema.graphql", self.schema),
            Route("/docs/", self.docs),
            Route("/docs/{name}", self.document),
            Route("/assets/{version}/{name}", self.assets.serve),
        ]

    def graphiql(self) -> HTMLResponse:
        """GraphiQL's page, loading everything from this service."""
        return _page(
            "GraphiQL · Measure Ledger",
            "graphiql",
            [self.assets.url("graphiql.min.css"), self.assets.url("front-door.css")],
            "graphiql.html",
            react_js=self.assets.url("react.production.min.js"),
            react_dom_js=self.assets.url("react-dom.production.min.js"),
            graphiql_js=self.assets.url("graphiql.min.js"),
            setup_js=self.assets.url("graphiql-setup.js"),
        )

    async def index(self, request: Request) -> HTMLResponse:
        doors: list[str] = []
        if self.settings.graphiql:
            doors.append(
                '<li><a href="/graphql">GraphiQL</a>: write and run queries, mutations and subscriptions, with'
                " every type and field documented beside them. Put your token in its Headers tab as"
                ' <code>{"Authorization": "Bearer mlt_…"}</code>.</li>'
            )
        else:
            doors.append('<li class="off">GraphiQL is turned off here (<code>ML_GRAPHIQL</code>).</li>')
        if self.settings.introspection:
            doors.append(
                '<li><a href="/schema.graphql">The schema</a> (<code>schema.graphql</code>), for code generators'
                " and editors.</li>"
            )
        doors.append(
            '<li><a href="/health">Health</a>: how far the read model has projected, and whether a process leads'
            " the projection.</li>"
        )
        if self.documents:
            doors.append(
                '<li><a href="/docs/">The docs</a>: setting up, access and roles, caching, clients, the rules'
                " that compute changes and statuses.</li>"
            )
        else:
            doors.append('<li class="off">The docs are in the source: README.md and docs/.</li>')
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return _page(
            "Measure Ledger",
            "page",
            [self.assets.url("front-door.css")],
            "index.html",
            doors="\n".join(doors),
            origin=html.escape(origin),
        )

    async def schema(self, request: Request) -> Response:
        if not self.settings.introspection:
            return PlainTextResponse("The schema is not given out here: introspection is off.", status_code=404)
        return PlainTextResponse(
            self._sdl() + "\n", headers={"content-disposition": 'inline; filename="schema.graphql"'}
        )

    async def docs(self, request: Request) -> Response:
        items = [f'<li><a href="/docs/{html.escape(name)}">{html.escape(name)}</a></li>' for name in self.documents]
        return _page(
            "Docs · Measure Ledger",
            "page",
            [self.assets.url("front-door.css")],
            "docs.html",
            documents="\n".join(items) or '<li class="off">None: this is an installed package, not a checkout.</li>',
        )

    async def document(self, request: Request) -> Response:
        path = self.documents.get(request.path_params["name"])
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return PlainTextResponse(path.read_text(encoding="utf-8"), headers={"x-content-type-options": "nosniff"})
