"""Plan files (docs/plan-file.md): read and check a whole file, then record only what is new.

The modules, in the order a file passes through them:
- `problems`: what is wrong with an input file, and reading it as text;
- `reading`: YAML with line numbers, and the reader that collects problems;
- `definitions`, `components`: a measure's definitions and its components' series;
- `steps`: each thing the file says about a measure, as one use case;
- `parsed`: the checked file; `loading`: `load_plan_file`, which builds it;
- `recording`: `import_plan`, which records what the ledger lacks;
- `reconciling`: how a file that disagrees with the ledger is explained.

`service.importer` re-exports the public names, so callers need not know this layout.
"""
