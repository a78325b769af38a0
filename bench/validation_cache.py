"""Does the validation cache still hit with the limit rules registered? And what does each way cost?

    python -m bench.validation_cache [--runs 500]

Executes one dashboard document many times against `service.schema.build_schema()`,
with the speed-ups installed (its caches among them) and the limit rules registered
three ways: not at all (baseline), as the class-level extension of `service.limits.limits_extension` (rule classes built
once), and as a factory building the rules per request (what library-facts
warns against). A validation that really runs instantiates every rule class,
so counting instantiations of the limit rules counts validations; the cache
hit rate is 1 - validations / executions. No database is needed: execution
stops at the first resolver, after parsing and validation, which is what is
measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import AddValidationRules

from service import limits, speedups
from service.schema import build_schema

DASHBOARD = """query Dashboard($id: ID!) { plan(id: $id) { id title partnership year period { start end } version
  themes { code title measures { id number } }
  measures { id number title direction basis tolerance unit status version
    components { key label baseline { value numerator denominator period note isReset reason recordedBy }
      baselineHistory { value isReset reason }
      figures { quarter value numerator denominator available unavailableReason comparisonValue change
                reportedChange discrepancy status rule commentary revision reason recordedBy } }
    quarters { quarter status computedStatus override { status reason recordedBy } commentary
               components { key figure { value change } } } } } }"""

validations = 0


def _count_validations() -> None:
    """Every limit rule class inherits this __init__, whichever way it was built."""
    original = limits._LimitRule.__init__

    def counting(self: Any, context: Any) -> None:
        global validations
        validations += 1
        original(self, context)

    limits._LimitRule.__init__ = counting  # type: ignore[method-assign]


def schema_with(extra: list[Any]) -> strawberry.Schema:
    schema = build_schema()
    speedups.install(schema)
    schema.extensions = (*schema.extensions, *extra)
    return schema


async def run(schema: strawberry.Schema, runs: int) -> tuple[float, float]:
    """Mean milliseconds per execution, and the validation-cache hit rate of the limit rules."""
    global validations
    rules_per_validation = len(limits.limit_rules())
    await schema.execute(DASHBOARD, variable_values={"id": "warm-up"})
    validations = 0
    started = time.perf_counter()
    for _ in range(runs):
        await schema.execute(DASHBOARD, variable_values={"id": "00000000-0000-0000-0000-000000000000"})
    elapsed = (time.perf_counter() - started) / runs * 1000
    return elapsed, 1 - validations / rules_per_validation / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    _count_validations()
    config = limits.LimitConfig()
    per_request: Callable[[], AddValidationRules] = lambda: AddValidationRules(limits.limit_rules(config))  # noqa: E731
    ways: dict[str, list[Any]] = {
        "no limit rules (baseline)": [],
        "limits_extension (classes built once)": [limits.limits_extension(config)],
        "factory (rules built per request)": [per_request],
    }
    print(f"{args.runs} executions of a {len(DASHBOARD)}-character dashboard document each")
    results: dict[str, float] = {}
    for name, extra in ways.items():
        ms, hit_rate = asyncio.run(run(schema_with(extra), args.runs))
        results[name] = ms
        shown = "n/a" if not extra else f"{hit_rate:.1%}"
        print(f"  {name:<40} {ms:7.3f} ms/execution   limit-rule validation cache hit rate {shown}")
    base = results["no limit rules (baseline)"]
    for name in list(ways)[1:]:
        print(f"  {name}: {statistics.fmean([results[name] - base]):+.3f} ms over the baseline")


if __name__ == "__main__":
    main()
