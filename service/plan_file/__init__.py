"""Plan files in (docs/plan-file.md): check the whole file, then record only what is new.

`load_plan_file` reads the YAML with its line numbers, checks every value with
the domain's own parsers, and checks every step by applying it to aggregates
held in memory, so a file with any problem is refused whole, every problem
listed with its `file:line` and path. `import_plan` compares the file with what
the ledger has recorded and records only what is missing, in file order: a
second import of the same file records nothing. docs/plan-file.md describes
the format, with the forms beyond its example that an export writes.

The modules, in the order a file passes through them:
- `problems`: what is wrong with an input file, and reading it as text;
- `lines`: YAML with line numbers, and the reader that collects problems;
- `definitions`, `components`: a measure's definitions and its components' series;
- `steps`: each thing the file says about a measure, as one use case;
- `parsed`: the checked file; `loading`: `load_plan_file`, which builds it;
- `recording`: `import_plan`, which records what the ledger lacks;
- `reconciling`: how a file that disagrees with the ledger is explained.
"""

from __future__ import annotations

from service.plan_file.loading import load_plan_file
from service.plan_file.parsed import PlanFile
from service.plan_file.problems import PlanFileError, Problem, ProblemsFound
from service.plan_file.recording import ImportReport, import_plan

__all__ = [
    "ImportReport",
    "PlanFile",
    "PlanFileError",
    "Problem",
    "ProblemsFound",
    "import_plan",
    "load_plan_file",
]
