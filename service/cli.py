"""`measure-ledger`: serve the API, run or rebuild projections, tokens, schema, import and export."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from service.settings import Settings
    from service.stopping import SignalStop

ROOT = Path(__file__).resolve().parent.parent
DEMO_PLAN = ROOT / "examples" / "community-safety-plan-2012-13.yaml"
DEMO_PRINCIPAL = "demo"
# The exit status of any command whose DATABASE_URL cannot be used.
EXIT_DATABASE_UNUSABLE = 3
# The commands that stop between two units of work on SIGTERM or SIGINT (service/stopping.py `stop_on_signals`).
# Their handlers are installed before the rest of the service is imported, which takes a second or more: a
# process started with SIGINT ignored (a script's background job, a runner with no terminal) drops a signal
# that comes before its handler, and would run on, leading the projection, after a stop sent while it started.
STOPPING_COMMANDS = frozenset({"project", "deliver"})


def eventsourcing_env(url: str) -> dict[str, str]:
    """service/settings.py's, imported only once a command runs (see STOPPING_COMMANDS)."""
    from service.settings import eventsourcing_env

    return eventsourcing_env(url)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database (DatabaseUnusable at once if it cannot be used), or the embedded one in the data
    folder."""
    if settings.database_url:
        from service.startup import check_database

        check_database(settings.database_url)
        yield settings.database_url
        return
    from service.embedded import embedded_postgres

    with embedded_postgres(settings.data_dir) as url:
        yield url


# Off with JSON logs: stderr then holds one JSON object per line, for a machine to read.
_progress_bars = True


def progress_bar(label: str) -> object:
    """A one-line progress bar on stderr, for long commands."""

    shown = -1

    def show(done: int, total: int) -> None:
        nonlocal shown
        if not _progress_bars:
            return
        width = 30
        filled = width * done // total if total else width
        if filled == shown and done < total:
            return  # redraw only when the bar moves
        shown = filled
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


@contextmanager
def shared_metrics(settings: Settings) -> Iterator[None]:
    """One prometheus-client multiprocess folder for all of `serve`'s processes, so that a scrape of any web
    process reports them all (service/metrics.py); and the metrics on a port of their own, if configured.

    This process reads the folder but does not import service/metrics.py: its metrics would be counted as
    one more process's, at zero."""
    import shutil
    import tempfile

    made = None if settings.metrics_dir else tempfile.mkdtemp(prefix="measure-ledger-metrics-")
    folder = settings.metrics_dir or made
    assert folder is not None
    for stale in Path(folder).glob("*.db"):  # an earlier run's
        stale.unlink()
    # Set before prometheus_client is first imported, here and in the processes started from here.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    if settings.metrics_port is not None:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(settings.metrics_port, settings.metrics_host, registry=registry)
    try:
        yield
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.header_deadline import http_protocol
    from service.logs import log_config
    from service.projector import PROCESS, cli_process, projector_process
    from service.stopping import exit_on_signals

    if settings.opentelemetry:
        from service.tracing import TracingUnavailable, available

        try:
            available()
        except TracingUnavailable as e:
            print(f"measure-ledger: {e}", file=sys.stderr)
            return 2
    # Stopped by SIGTERM (systemd, Docker, Kubernetes) as by Ctrl-C: the embedded PostgreSQL stops with it.
    exit_on_signals()
    embedded = not settings.database_url
    with shared_metrics(settings), database(settings) as url:
        os.environ["DATABASE_URL"] = url
        from projections.ledger_store.event_store import open_ledger
        from projections.runner import catch_up_if_leader

        env = eventsourcing_env(url)
        open_ledger(env).close()
        if embedded and settings.load_demo and not args.no_demo and DEMO_PLAN.exists():
            _load_demo(env)
        # So the first request sees a read model that is up to date.
        catch_up_if_leader(env, progress=progress_bar("read model"))  # type: ignore[arg-type]
        _greet(args, settings, url, embedded)
        with ExitStack() as stack:
            if args.projector == PROCESS:
                stack.enter_context(projector_process(url))
                # Webhook deliveries too (service/webhooks/process.py); the web processes stand by for both.
                stack.enter_context(cli_process("deliver", url))
            uvicorn.run(
                "service.app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                http=http_protocol(settings.header_timeout_seconds),
                ws_ping_interval=20,
                # Messages are a few hundred bytes; deflate's state costs ~40 KB per WebSocket (bench/subscribers.py).
                ws_per_message_deflate=False,
                log_level="info",
                # The same log lines in every worker (service/logs.py); one line per request is written there.
                log_config=log_config(settings.log_format),
                access_log=False,
            )
    return 0


def _greet(args: argparse.Namespace, settings: Settings, url: str, embedded: bool) -> None:
    """What a person starting the service needs: where the data is, the URL, a token, how to stop."""
    import psycopg.conninfo

    from service.auth.tokens import list_tokens
    from service.embedded import START_LOG

    print(f"Measure Ledger {_version()}")
    if embedded:
        data = settings.data_dir.resolve()
        print(f"  data:  {data} (embedded PostgreSQL; its start-up output in {data / START_LOG})")
    else:
        parts = psycopg.conninfo.conninfo_to_dict(url)
        print(f"  data:  database {parts.get('dbname', '?')!r} on {parts.get('host', 'localhost')} (DATABASE_URL)")
    print(f"  API:   http://{args.host}:{args.port}/graphql (GraphiQL in a browser)")
    if embedded:
        token = _demo_token(settings, url)
        print(f"  Demo token (principal {DEMO_PRINCIPAL!r}): {token}")
        print(f"         kept in {settings.data_dir.resolve() / 'demo-token'}; send it as")
        print(f'         curl -H "Authorization: Bearer {token}" ...')
    elif not any(t.status(datetime.now(UTC)) == "live" for t in list_tokens(url)):
        print("  token: none yet; create one with the same DATABASE_URL (it is shown once):")
        print("         measure-ledger token create NAME   (an operator token; --help for narrower ones)")
    print("  stop:  Ctrl-C (or SIGTERM)", flush=True)


def _version() -> str:
    from importlib.metadata import version

    return version("measure-ledger")


def _load_demo(env: dict[str, str]) -> None:
    """Import the demo plan; a second start records nothing new."""
    from projections.ledger_store.event_store import open_ledger
    from service.plan_file import ProblemsFound, import_plan, load_plan_file

    ledger = open_ledger(env)
    try:
        report = import_plan(ledger, load_plan_file(DEMO_PLAN), actor=DEMO_PRINCIPAL)
        print(f"Demo plan: {report}")
    except ProblemsFound as e:
        # Someone has since changed the demo figures through the API: theirs stand.
        print(f"Demo plan left as it is: {e.problems[0]}")
    finally:
        ledger.close()


def _actor(args: argparse.Namespace, settings: Settings, url: str) -> str:
    """Who a command acts as: the principal of --token (or ML_TOKEN), else --actor."""
    from service.auth.tokens import principal_of

    token = args.token or settings.token
    if token:
        principal = principal_of(url, token)
        if principal is None:
            raise SystemExit("the token is not valid (unknown or revoked)")
        return principal.name
    if args.actor:
        return str(args.actor)
    raise SystemExit("say who is acting: --token TOKEN (or ML_TOKEN), or --actor NAME")


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from service.plan_file import ProblemsFound, import_plan, load_plan_file

    try:
        plan_file = load_plan_file(args.file)
    except ProblemsFound as e:
        print(e, file=sys.stderr)
        return 1
    return _record(
        args,
        settings,
        lambda ledger, actor: import_plan(
            ledger,
            plan_file,
            actor,
            dry_run=args.dry_run,
            progress=progress_bar("import"),  # type: ignore[arg-type]
        ),
    )


def cmd_import_returns(args: argparse.Namespace, settings: Settings) -> int:
    from service.returns import import_returns

    plan_id = _plan_id(args.plan)
    if plan_id is None:
        return 1
    return _record(
        args,
        settings,
        lambda ledger, actor: import_returns(ledger, plan_id, args.quarter, args.file, actor, dry_run=args.dry_run),
    )


def _plan_id(raw: str) -> UUID | None:
    """The plan id a command was given; None, said on stderr, where it is not one."""
    try:
        return UUID(raw)
    except ValueError:
        print(f"plan: {raw!r} is not a plan id (a UUID, as `plans {{ id }}` gives it)", file=sys.stderr)
        return None


def _record(args: argparse.Namespace, settings: Settings, run: Callable[[Any, str], Any]) -> int:
    """Run an import as the command's actor: print what it recorded (and, in a dry run, each command)."""
    from projections.ledger_store.event_store import open_ledger
    from service.plan_file import ProblemsFound

    with database(settings) as url:
        actor = _actor(args, settings, url)
        ledger = open_ledger(eventsourcing_env(url))
        try:
            report = run(ledger, actor)
        except ProblemsFound as e:
            print(e, file=sys.stderr)
            return 1
        finally:
            ledger.close()
    for line in report.commands if args.dry_run else ():
        print(line)
    print(report)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from domain.errors import DomainError
    from projections.ledger_store.event_store import open_ledger
    from service.plan_export import export_plan_csv, export_plan_yaml

    plan_id = _plan_id(args.plan)
    if plan_id is None:
        return 1
    with database(settings) as url:
        ledger = open_ledger(eventsourcing_env(url))
        try:
            export = export_plan_yaml if args.format == "yaml" else export_plan_csv
            sys.stdout.write(export(ledger, plan_id))
        except DomainError as e:
            print(e, file=sys.stderr)
            return 1
        finally:
            ledger.close()
    return 0


def _demo_token(settings: Settings, url: str) -> str:
    """One demo token per data folder, kept beside the database."""
    from service.auth.tokens import create_token

    path = settings.data_dir / "demo-token"
    if path.exists():
        return path.read_text().strip()
    token = create_token(url, DEMO_PRINCIPAL)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def cmd_project(args: argparse.Namespace, settings: Settings) -> int:
    from projections.runner import run_projection
    from service import metrics

    stop: SignalStop = args.stop  # since the process started (`main`)

    metrics.sample_in_thread(stop)
    try:
        with database(settings) as url:
            run_projection(eventsourcing_env(url), stop, stall_seconds=settings.leader_stall_seconds)
    finally:
        metrics.process_ended()
    return 0


def cmd_deliver(args: argparse.Namespace, settings: Settings) -> int:
    from service.webhooks.process import deliver

    stop: SignalStop = args.stop  # since the process started (`main`)
    with database(settings) as url:
        deliver(url, settings.webhooks, stop)
    return 0


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from projections.beside import rebuild_beside

    with database(settings) as url:
        count = rebuild_beside(
            eventsourcing_env(url),
            progress=progress_bar("rebuild"),  # type: ignore[arg-type]
            shares=args.shares,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
    print(f"rebuilt the read model from {count} events")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from service.auth.tokens import create_token

    try:
        expires_in = _duration(args.expires_in) if args.expires_in else None
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    with database(settings) as url:
        try:
            token = create_token(
                url,
                args.name,
                partnership=args.partnership,
                roles=args.role or None,
                themes=args.theme or None,
                measures=args.measure or None,
                expires_in=expires_in,
            )
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
    print(token)
    return 0


def _duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m` or a number of seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    raw = text.strip().lower()
    scale = units.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"--expires-in: {text!r} is not a duration such as 90d, 12h or 30m")
    return timedelta(seconds=int(number) * (scale or 1))


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    from service.auth.tokens import list_tokens

    with database(settings) as url:
        found = list_tokens(url, args.partnership)
    print(f"{'prefix':<10} {'name':<32} {'partnership':<28} {'roles':<30} {'expires':<20} state")
    now = datetime.now(UTC)
    for t in found:
        roles = ",".join(sorted(r.value for r in t.roles))
        expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
        print(f"{t.prefix:<10} {t.name:<32} {t.partnership or '(all)':<28} {roles:<30} {expires:<20} {t.status(now)}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from service.auth.tokens import revoke_token

    with database(settings) as url:
        revoked = revoke_token(url, args.prefix)
    print("revoked" if revoked else "no live token with that prefix")
    return 0 if revoked else 1


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from service.schema import schema_sdl

    sdl = schema_sdl()
    target = ROOT / "schema.graphql"
    if args.check:
        if not target.exists() or target.read_text() != sdl:
            print("schema.graphql differs from the served schema; run `measure-ledger schema --write`")
            return 1
        print("schema.graphql matches the served schema")
        return 0
    if args.write:
        target.write_text(sdl)
        print(f"wrote {target}")
        return 0
    sys.stdout.write(sdl)
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from projections.ledger_store.chain import catch_up_chain, open_chain
    from projections.ledger_store.event_store import open_ledger
    from projections.ledger_store.verify import parse_digest, verify

    try:
        digest = parse_digest(args.digest) if args.digest else None
    except ValueError as e:
        print(f"--digest: {e}", file=sys.stderr)
        return 2
    with database(settings) as url:
        env = eventsourcing_env(url)
        ledger, chain = open_ledger(env), open_chain(env)  # the tables, if this is a new database
        try:
            if args.link:
                # Only adds links for rows never linked; what is linked stays as it was.
                catch_up_chain(ledger, chain)
        finally:
            chain.datastore.close()
            ledger.close()
        verdict = verify(url, digest)
    print(verdict.report())
    return 0 if verdict.ok else 1


def cmd_audit_export(args: argparse.Namespace, settings: Settings) -> int:
    from domain.errors import DomainError
    from service.audit_export import export_to, selection_of

    params = {
        "planId": args.plan,
        "measureId": args.measure,
        "actor": args.actor,
        "action": args.action,
        "component": args.component,
        "quarter": args.quarter,
        "recordedFrom": args.recorded_from,
        "recordedTo": args.recorded_to,
        "order": args.order,
    }
    try:
        chosen = selection_of({k: v for k, v in params.items() if v is not None})
    except DomainError as e:
        print(e, file=sys.stderr)
        return 2
    with database(settings) as url:
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = export_to(url, chosen, args.format, out)
        else:
            count = export_to(url, chosen, args.format, sys.stdout)
    print(f"exported {count} audit entries", file=sys.stderr)
    return 0


def parser(settings: Settings | None = None) -> argparse.ArgumentParser:
    """The command line; `serve`'s defaults are `settings`' (the environment's, from `main`)."""
    from service.settings import Settings

    settings = settings or Settings()
    p = argparse.ArgumentParser(prog="measure-ledger", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "serve",
        help="serve the GraphQL API (embedded PostgreSQL without DATABASE_URL)",
        description="Serve the GraphQL API. Without DATABASE_URL, an embedded PostgreSQL keeps its data in "
        "ML_DATA_DIR (default .measure-ledger) with the 2012-13 demo plan and a demo token. Defaults shown "
        "are this environment's: each option's ML_ variable changes it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--host", default=settings.host, help="address to listen on (or set ML_HOST)")
    s.add_argument("--port", type=int, default=settings.port, help="port to listen on (or set ML_PORT)")
    s.add_argument(
        "--workers",
        type=int,
        default=settings.workers,
        help="web processes sharing the port (or set ML_WORKERS)",
    )
    s.add_argument(
        "--no-demo", action="store_true", help="do not load the 2012-13 demo plan into the embedded database"
    )
    s.add_argument(
        "--projector",
        choices=("process", "thread"),
        default=settings.projector,
        help="project, and deliver webhooks, in processes of their own beside the web processes, "
        "or in threads of the web processes (or set ML_PROJECTOR)",
    )
    s.set_defaults(run=cmd_serve)

    s = sub.add_parser("project", help="run the projections alone (one leader among all processes)")
    s.set_defaults(run=cmd_project)

    s = sub.add_parser("deliver", help="deliver webhooks alone (one leader among all processes)")
    s.set_defaults(run=cmd_deliver)

    s = sub.add_parser("rebuild", help="rebuild the read model from the event store")
    s.add_argument(
        "--shares",
        type=positive_int,
        help="processes to project in, each a share of the aggregates (default: one per core for a large store)",
    )
    s.set_defaults(run=cmd_rebuild)

    s = sub.add_parser("token", help="manage API tokens")
    tsub = s.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", help="create a token for NAME and print it (only its hash is kept)")
    t.add_argument("name")
    t.add_argument("--partnership", help="the partnership it acts in (default: every one: an operator token)")
    t.add_argument(
        "--role",
        action="append",
        choices=["viewer", "auditor", "submitter", "editor", "approver", "admin"],
        help="a role (repeatable; default admin)",
    )
    t.add_argument("--theme", action="append", help="limit writes to this theme code (repeatable)")
    t.add_argument("--measure", action="append", help="limit writes to this measure number (repeatable)")
    t.add_argument("--expires-in", help="e.g. 90d, 12h, 30m (default: never)")
    t.set_defaults(run=cmd_token)
    t = tsub.add_parser("list", help="list tokens (never their secrets)")
    t.add_argument("--partnership", help="only this partnership's")
    t.set_defaults(run=cmd_token_list)
    t = tsub.add_parser("revoke", help="revoke a token by its prefix (the 8 characters after mlt_); at once")
    t.add_argument("prefix")
    t.set_defaults(run=cmd_token_revoke)

    s = sub.add_parser("import", help="import a plan file (docs/plan-file.md); a second import records nothing")
    s.add_argument("file")
    s.add_argument("--dry-run", action="store_true", help="show what would be recorded, record nothing")
    s.add_argument("--token", help="act as this token's principal (or set ML_TOKEN)")
    s.add_argument("--actor", help="act as this name (when no token is given)")
    s.set_defaults(run=cmd_import)

    s = sub.add_parser("import-returns", help="import a quarter's returns from CSV")
    s.add_argument("file")
    s.add_argument("--plan", required=True, help="the plan's id")
    s.add_argument("--quarter", required=True, choices=["Q1", "Q2", "Q3", "Q4"])
    s.add_argument("--dry-run", action="store_true", help="show what would be recorded, record nothing")
    s.add_argument("--token", help="act as this token's principal (or set ML_TOKEN)")
    s.add_argument("--actor", help="act as this name (when no token is given)")
    s.set_defaults(run=cmd_import_returns)

    s = sub.add_parser("export", help="export a plan as YAML (importable) or CSV")
    s.add_argument("plan", help="the plan's id")
    s.add_argument("--format", choices=["yaml", "csv"], default="yaml")
    s.set_defaults(run=cmd_export)

    s = sub.add_parser("verify", help="check the event store against its hash chain (and a published digest)")
    s.add_argument("--digest", help="POSITION:HASH as published from the auditDigest query")
    s.add_argument("--link", action="store_true", help="first link stored events not linked yet")
    s.set_defaults(run=cmd_verify)

    s = sub.add_parser("audit-export", help="export the audit trail as CSV or JSON Lines, streamed")
    s.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    s.add_argument("--plan", help="only this plan's entries (its id)")
    s.add_argument("--measure", help="only this measure's entries (its id)")
    s.add_argument("--actor", help="only entries of this principal")
    s.add_argument("--action", help="only this action, e.g. FigureRevised")
    s.add_argument("--component", help="only entries of this component (its key)")
    s.add_argument("--quarter", help="only entries of this quarter, e.g. Q2")
    s.add_argument("--from", dest="recorded_from", help="recorded at or after (ISO 8601 with offset)")
    s.add_argument("--to", dest="recorded_to", help="recorded before (ISO 8601 with offset)")
    s.add_argument("--order", type=str.upper, choices=["OLDEST_FIRST", "NEWEST_FIRST"], default="OLDEST_FIRST")
    s.add_argument("--output", "-o", help="write to this file rather than standard output")
    s.set_defaults(run=cmd_audit_export)

    s = sub.add_parser("schema", help="print the served GraphQL schema")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="write it to schema.graphql")
    g.add_argument("--check", action="store_true", help="fail if schema.graphql differs")
    s.set_defaults(run=cmd_schema)
    return p


def _stopping_early(arguments: Sequence[str]) -> SignalStop | None:
    """For a command of STOPPING_COMMANDS, its stop, set by SIGTERM or SIGINT from now on; else None."""
    command = next((a for a in arguments if not a.startswith("-")), None)
    if command not in STOPPING_COMMANDS:
        return None
    from projections.runtime import exit_with_parent
    from service.stopping import stop_on_signals

    exit_with_parent()  # started by `serve`: ends with it, however it ends
    return stop_on_signals()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    stop = _stopping_early(arguments)  # first, before the imports below
    from service.settings import Settings

    settings = Settings.from_env()
    from service.logs import FORMATS, log_config

    if settings.log_format not in FORMATS:
        print(f"ML_LOG_FORMAT: {settings.log_format!r} is not one of {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    logging.config.dictConfig(log_config(settings.log_format))
    global _progress_bars
    _progress_bars = settings.log_format != "json"
    args = parser(settings).parse_args(arguments)
    args.stop = stop
    from service.startup import DatabaseUnusable

    try:
        return int(args.run(args, settings))
    except DatabaseUnusable as e:
        print(f"measure-ledger: {e}", file=sys.stderr)
        return EXIT_DATABASE_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
