"""The quarterly report as the board reads it, rendered from the read model with every number's provenance.

- `moment.py`: which ledger position a report shows (now, `asOf` a moment, a publication) and the chain's digest there.
- `model.py`: the report's contents, read through the same loaders as the GraphQL API.
- `marks.py`: numbers, changes and status marks as the page writes them.
- `charts.py`: the inline SVG pictures (a measure's quarters, a theme's statuses).
- `render.py`: HTML (Jinja2), CSV and PDF (WeasyPrint) of one report.
- `links.py`: short-lived signed links, so a browser can open a report without a bearer header.
- `routes.py`: the HTTP endpoints and who may read what.
"""
