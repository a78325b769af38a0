"""A typed client can be generated: docs/clients.md's GraphQL Code Generator set-up, run over schema.graphql
and examples/operations/, and its output type-checked with tsc, strict, together with code that uses it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.clients.npm import CLIENTS, ROOT, run_node

MARKER = "<!-- codegen.ts: tests/clients/test_codegen.py runs this block"

# Node.js processes of their own, and a first `npm ci` of about a minute.
pytestmark = pytest.mark.slow


def documented_config() -> str:
    text = (ROOT / "docs" / "clients.md").read_text()
    found = re.search(re.escape(MARKER) + r".*?-->\n```ts\n(.*?)```", text, re.S)
    assert found, "docs/clients.md has lost its codegen.ts block"
    return found.group(1)


def test_the_documented_codegen_set_up_writes_types_that_compile_with_code_using_them(
    node_modules: Path, tmp_path: Path
) -> None:
    (tmp_path / "node_modules").symlink_to(node_modules)
    (tmp_path / "codegen.ts").write_text(documented_config())
    shutil.copy(ROOT / "schema.graphql", tmp_path)
    shutil.copytree(ROOT / "examples" / "operations", tmp_path / "examples" / "operations")
    for name in ("typed_usage.ts", "tsconfig.json"):
        shutil.copy(CLIENTS / name, tmp_path)

    run_node([str(node_modules / ".bin" / "graphql-codegen"), "--config", "codegen.ts"], tmp_path)
    generated = (tmp_path / "src" / "gql" / "graphql.ts").read_text()
    run_node([str(node_modules / ".bin" / "tsc"), "-p", "tsconfig.json"], tmp_path)

    # Every custom scalar mapped to a string, as docs/clients.md says they travel.
    for scalar in ("Date", "DateTime", "Decimal"):
        assert f"{scalar}: {{ input: string; output: string; }}" in generated
    for operation in ("Dashboard", "ReviseFigure", "StatusChanged", "AuditTrail"):
        assert f"export const {operation}Document" in generated
