"""One report as HTML (Jinja2), as CSV, and as PDF (WeasyPrint, from the same HTML).

The page is complete in itself: its stylesheet and pictures are inline and it
runs no script, so it reads the same offline, saved to disk, or on paper.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any, Protocol
from uuid import UUID

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from service.report import charts, marks
from service.report.model import QUARTERS, FigureCell, MeasureReport, Report
from service.report.moment import Kind, Shown

_env = Environment(
    loader=PackageLoader("service.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=False,
    lstrip_blocks=False,
)


def css_string(text: str) -> Markup:
    """Text for inside a CSS string in a <style> element, where HTML entities are not decoded: every character
    that could end the string or the element, or be misread, as a CSS escape."""
    return Markup("".join(c if c.isalnum() or c in " .,:;·…()-_/" else f"\\{ord(c):x} " for c in text))


_env.filters["css_string"] = css_string
_CSS = resources.files("service.report").joinpath("templates", "report.css").read_text(encoding="utf-8")

CSV_COLUMNS = (
    "theme",
    "measure",
    "title",
    "component",
    "quarter",
    "figure",
    "change",
    "status",
    "quarter_status",
    "computed_status",
    "override_reason",
    "measure_status",
    "baseline",
    "baseline_reset_reason",
    "unavailable_reason",
    "discrepancy_reason",
    "revision",
    "changed_since",
    "commentary",
    "position",
    "digest",
    "publication",
)


class Href(Protocol):
    """A link onward from a page, for its reader: `path` at the page's moment (or `view`), in `fmt`."""

    def __call__(self, path: str, view: str | None = None, fmt: str | None = None, anchor: str = "") -> str: ...


@dataclass(frozen=True)
class Links:
    """Where the page's links go; `history` is None for a reader who may not read the audit trail."""

    pdf: str
    csv: str
    current: str | None = None
    history: Callable[[MeasureReport, FigureCell], str] | None = None


def view_label(shown: Shown) -> str:
    if shown.publication is not None:
        p = shown.publication
        return f"{p.title} (the {p.quarter} report, presented {day(p.presented_on)})"
    if shown.kind is Kind.AS_OF and shown.asked is not None:
        return f"as of {moment(shown.asked)}"
    return (
        "the current state" if shown.known_at is None else f"the current state (as recorded {moment(shown.known_at)})"
    )


def day(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def moment(value: datetime) -> str:
    return f"{value.day} {value:%B %Y, %H:%M:%S} {value.tzname() or 'UTC'}"


def html(report: Report, links: Links, produced: datetime) -> str:
    """The report page."""
    reported = {q.quarter for m in report.measures for q in m.quarters if q.figures}
    return _env.get_template("report.html").render(
        report=report,
        links=links,
        produced=produced,
        css=Markup(_CSS),
        view_label=view_label(report.shown),
        quarters=QUARTERS,
        reported=reported,
        charts={m.id: _charts(m) for m in report.measures},
        mark=marks.mark,
        day=day,
        moment=moment,
        status_bar=charts.status_bar,
    )


def _charts(m: MeasureReport) -> list[tuple[str, Markup]]:
    """One picture per component: its quarters against the comparison values worked out from its baseline."""
    pictures = []
    for b in m.baselines:
        points = []
        for q in m.quarters:
            f = next((f for f in q.figures if f.component == b.component), None)
            points.append(
                charts.Point(
                    q.quarter,
                    f.measured if f is not None and f.available else None,
                    f.comparison if f is not None else None,
                    f.status if f is not None else "NO_DATA",
                )
            )
        if any(p.measured is not None for p in points):
            label = f"{m.number} {b.label}, by quarter" + (" against the baseline" if b.text else "")
            chart_id = f"chart-{m.number}-{b.component}"
            pictures.append((b.label, charts.quarters_chart(label, points, m.rate, chart_id)))
    return pictures


def csv_text(report: Report) -> str:
    """The report's table, one row per figure (and one per measure's quarter without any)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    shown = report.shown
    published = shown.publication.title if shown.publication else ""
    for theme in report.themes:
        for m in theme.measures:
            baselines = {b.component: b for b in m.baselines}
            for q in m.quarters:
                common = [m.number, m.title]
                tail_quarter = [
                    q.status,
                    q.computed_status,
                    q.override.reason if q.override else "",
                    m.status,
                ]
                if not q.figures:
                    writer.writerow(
                        [
                            theme.code,
                            *common,
                            "",
                            q.quarter,
                            "",
                            "",
                            "",
                            *tail_quarter,
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            q.commentary or "",
                            shown.position,
                            shown.digest,
                            published,
                        ]  # fmt: skip
                    )
                for f in q.figures:
                    b = baselines.get(f.component)
                    writer.writerow(
                        [
                            theme.code,
                            *common,
                            f.component,
                            q.quarter,
                            f.text if f.available else "",
                            f.change_plain,
                            f.status,
                            *tail_quarter,
                            b.text if b else "",
                            b.reason if b and b.is_reset else "",
                            f.unavailable_reason or "",
                            f.discrepancy_reason or "",
                            f.revision,
                            f.later.text if f.later else "",
                            f.commentary or q.commentary or "",
                            shown.position,
                            shown.digest,
                            published,
                        ]
                    )
    return out.getvalue()


def pdf(page: str, base_url: str) -> bytes:
    """The same page on A4 landscape paper.

    WeasyPrint needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0); it is imported here, not at start-up,
    so that a server without it serves everything but PDFs.
    """
    from weasyprint import HTML

    data: bytes = HTML(string=page, base_url=base_url, media_type="print").write_pdf()
    return data


def filename(report: Report, ext: str) -> str:
    published = f"-{report.shown.publication.quarter.lower()}-published" if report.shown.publication else ""
    return f"report-{_slug(report.title)}{published}-position-{report.shown.position}.{ext}"


def _slug(text: str) -> str:
    kept = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(part for part in kept.split("-") if part)[:60] or "plan"


def plan_path(plan_id: UUID) -> str:
    return f"/reports/{plan_id}"


@dataclass(frozen=True)
class EntryGroup:
    anchor: str
    title: str
    entries: list[Any]


def history_html(
    plan_title: str, measure: Any, labels: dict[str, str], entries: Sequence[Any], position: int, href: Href
) -> str:
    """A measure's audit entries, one table per figure (component and quarter), then the rest."""
    groups: dict[tuple[str, str], list[Any]] = {}
    rest: list[Any] = []
    for e in entries:
        if e["component"] is not None and e["quarter"] is not None:
            groups.setdefault((e["component"], e["quarter"]), []).append(e)
        else:
            rest.append(e)
    ordered = [
        EntryGroup(f"fig-{component}-{quarter}", f"{labels.get(component, component)}, {quarter}", found)
        for (component, quarter), found in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0]))
    ]
    ordered.append(EntryGroup("measure", "The measure: definition, baselines, commentary and statuses", rest))
    back = href(plan_path(measure["plan_id"]), anchor=f"#measure-{measure['number']}")
    return _env.get_template("history.html").render(
        plan_title=plan_title,
        measure=measure,
        groups=ordered,
        position=position,
        back=back,
        css=Markup(_CSS),
        moment=moment,
    )
