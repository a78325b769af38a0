"""A reproducible synthetic national ledger, written through the domain aggregates.

    python -m bench.generate --partnerships 300 --measures 30 --years 10 --database-url URL   # ≈ 900,000 events
    python -m bench.generate --small --database-url URL                                    # 5 x 10 x 2

P partnerships x Y years (one plan each) x M measures x 1-3 components (mean 1.5) x 4 quarters,
with revisions (~10% of figures), baseline resets (~5% of components a year), status overrides
(~3% of quarters) and commentary (~30% of quarters). One `ledger.save` per plan-year (the plan and
its measures in one transaction). The same seed gives the same ledger (ids and values; not the
timestamps).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from bench.server import fresh_database
from domain.definition import Definition, parse_definition
from domain.ledger import Ledger
from domain.measure import Measure
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import Basis, Direction, Quarter, Status, parse_amount
from service.settings import eventsourcing_env

REVISION_RATE = 0.10
RESET_RATE = 0.05
OVERRIDE_RATE = 0.03
COMMENTARY_RATE = 0.30
THEMES = 3
FIRST_YEAR = 2012
SIZES: dict[str, tuple[int, int, int]] = {"small": (5, 10, 2), "medium": (20, 20, 3), "national": (300, 30, 10)}


@dataclass(frozen=True)
class Size:
    partnerships: int
    measures: int
    years: int

    @property
    def plans(self) -> int:
        return self.partnerships * self.years


def actor(partnership: int) -> str:
    return f"officer@p{partnership:03d}.example.org"


def components(rng: random.Random) -> int:
    """1, 2 or 3 components, with mean 1.5."""
    draw = rng.random()
    return 1 if draw < 0.6 else 2 if draw < 0.9 else 3


def definition_of(
    number: str, parts: list[tuple[object, object]], direction: Direction = Direction.REDUCE
) -> Definition:
    """Measure `number`'s definition: year to date against a pro-rata baseline, no tolerance, these components."""
    return parse_definition(
        title=f"Measure {number}",
        description=None,
        direction=direction,
        basis=Basis.YTD_PRO_RATA,
        tolerance=None,
        unit=None,
        components=parts,
    )


def measure_year(rng: random.Random, plan: Plan, theme: str, number: str, who: str) -> Measure:
    """One measure through its year: baselines, four quarters of figures, and the occasional change."""
    count = components(rng)
    definition = definition_of(
        number,
        [(f"c{i}", f"Component {i}") for i in range(1, count + 1)],
        rng.choice((Direction.REDUCE, Direction.INCREASE)),
    )
    measure = Measure.define(
        plan_id=plan.id,
        theme_code=theme,
        number=number,
        definition=definition,
        discrepancy_threshold=DEFAULT_DISCREPANCY_THRESHOLD,
        actor=who,
    )
    keys = [c.key for c in definition.components]
    base = {key: rng.randint(100, 5000) for key in keys}
    for key in keys:
        measure.set_baseline(key, parse_amount(str(base[key]), None, None), actor=who)
    for quarter in Quarter:
        for key in keys:
            if rng.random() < RESET_RATE / 4:  # ~5% of components a year
                base[key] = rng.randint(100, 5000)
                measure.reset_baseline(key, parse_amount(str(base[key]), None, None), reason="rebased", actor=who)
            value = round(base[key] * quarter.number / 4 * rng.uniform(0.7, 1.3))
            measure.submit_figure(key, quarter, parse_amount(str(value), None, None), actor=who)
            if rng.random() < REVISION_RATE:
                # A revision must change the figure (one that changes nothing is refused), as the ledger's did.
                revised = round(value * rng.uniform(0.9, 1.1))
                value = revised if revised != value else value + 1
                measure.revise_figure(key, quarter, parse_amount(str(value), None, None), reason="late", actor=who)
        if rng.random() < COMMENTARY_RATE:
            measure.update_commentary(quarter, f"{number} {quarter.value}: in line with partners' returns", actor=who)
        if rng.random() < OVERRIDE_RATE:
            measure.override_status(quarter, Status.AT_RISK, reason="known local issue", actor=who)
    return measure


def generate(ledger: Ledger, size: Size, seed: int = 7, progress: bool = True) -> int:
    """Write the ledger; returns how many events were recorded."""
    rng = random.Random(seed)
    written = 0
    started = time.perf_counter()
    for n in range(size.plans):
        partnership, year = divmod(n, size.years)
        who = actor(partnership)
        first = FIRST_YEAR + year
        plan = Plan.create(
            partnership=f"Partnership {partnership:03d}",
            title=f"Plan {first}-{(first + 1) % 100:02d}",
            year=f"{first}-{(first + 1) % 100:02d}",
            period_start=date(first, 4, 1),
            period_end=date(first + 1, 3, 31),
            discrepancy_threshold=DEFAULT_DISCREPANCY_THRESHOLD,
            actor=who,
        )
        for t in range(1, THEMES + 1):
            plan.add_theme(code=str(t), title=f"Theme {t}", actor=who)
        measures = [
            measure_year(rng, plan, str(1 + m % THEMES), f"{1 + m % THEMES}.{1 + m // THEMES}", who)
            for m in range(size.measures)
        ]
        written += len(ledger.save(plan, *measures))
        if progress:
            rate = written / max(time.perf_counter() - started, 1e-9)
            bar = "#" * (30 * (n + 1) // size.plans)
            sys.stderr.write(f"\r[{bar:<30}] {n + 1}/{size.plans} plans, {written:,} events, {rate:,.0f}/s")
    if progress:
        sys.stderr.write("\n")
    return written


@contextmanager
def generated(size: Size) -> Iterator[str]:
    """A fresh database holding the seeded ledger of `size` (no read model yet); dropped afterwards."""
    with fresh_database() as url:
        ledger = Ledger(env=eventsourcing_env(url))
        try:
            generate(ledger, size, progress=False)
        finally:
            ledger.close()
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partnerships", type=int, default=SIZES["national"][0])
    parser.add_argument("--measures", type=int, default=SIZES["national"][1])
    parser.add_argument("--years", type=int, default=SIZES["national"][2])
    parser.add_argument("--small", action="store_true", help="5 partnerships x 10 measures x 2 years")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", required=True, help="an existing, empty database")
    args = parser.parse_args()
    size = Size(*SIZES["small"]) if args.small else Size(args.partnerships, args.measures, args.years)
    ledger = Ledger(env=eventsourcing_env(args.database_url))
    try:
        started = time.perf_counter()
        written = generate(ledger, size, args.seed)
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    print(f"{written:,} events written in {seconds:.1f} s: {written / seconds:,.0f} events/s")


if __name__ == "__main__":
    main()
