"""The `modelferry` commands (Click) and their output (Rich tables and progress bars, or `--json`).

Exit codes: 0 all good, 1 something failed (a copy, a check, the app unreachable), 2 usage (a bad option or
argument, or a request the app refused as invalid). Errors are one message and a hint on stderr (with
`--json`: the app's `{"error": {...}}` on stdout), never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from modelferry_cli import __version__
from modelferry_cli.client import EXIT_FAILED, EXIT_OK, EXIT_USAGE, RUNNING, App, CliError

STATE_STYLES = {"current": "bold green", "stale": "bold yellow", "missing": "dim", "conflict": "bold magenta",
                "failed": "bold red"}
OUTCOME_STYLES = {"succeeded": "green", "partial": "yellow", "failed": "red", "terminated": "red"}


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, width=None if terminal else 200, highlight=False, soft_wrap=not terminal)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def when(iso: str | None) -> str:
    return iso.replace("T", " ").replace("Z", "") if iso else "—"


# ------------------------------------------------------------------------------------------------ plumbing


def app_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --key, --json on every command; a CliError becomes its message (or JSON) and exit code."""
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
    @click.option("--key", envvar="MODELFERRY_KEY", metavar="KEY",
                  help="Function key of the app [env MODELFERRY_KEY; default: the `make up` stack's].")
    @click.option("--url", envvar="MODELFERRY_URL", metavar="URL",
                  help="Base URL of the ModelFerry app [env MODELFERRY_URL; default: the `make up` stack, "
                       "else http://127.0.0.1:7071].")
    @functools.wraps(fn)
    def wrapper(*args: Any, url: str | None, key: str | None, as_json: bool, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        try:
            code = fn(*args, app=App.resolve(url, key), as_json=as_json, **kwargs)
        except CliError as exc:
            if as_json:
                emit_json(exc.to_dict())
            err = console(stderr=True)
            err.print(Text(f"Error: {exc.message}", style="bold red"))
            if exc.hint:
                err.print(Text(f"Hint: {exc.hint}"))
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # a bug here must still not print a traceback at an operator
            if os.environ.get("MODELFERRY_DEBUG"):
                raise
            console(stderr=True).print(Text(f"Error: unexpected {type(exc).__name__}: {exc}", style="bold red"))
            console(stderr=True).print("Hint: run again with MODELFERRY_DEBUG=1 for the details and report it.")
            ctx.exit(EXIT_FAILED)
        ctx.exit(code or EXIT_OK)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, message="%(prog)s %(version)s", prog_name="modelferry")
def cli() -> None:
    """ModelFerry from the command line: copy and sync models, watch runs, find replicas, check the setup."""


# ------------------------------------------------------------------------------------------------ runs started


def _started(what: str, started: dict[str, Any], as_json: bool) -> int:
    """A run started without --wait: its id and the command that follows it."""
    if as_json:
        emit_json(started)
    else:
        console().print(f"{what} started: [bold]{started['id']}[/bold]\nfollow it: modelferry status "
                        f"{started['id']}")
    return EXIT_OK


def _follow(app: App, started: dict[str, Any], as_json: bool,
            showing: Callable[[], AbstractContextManager[Callable[[dict[str, Any]], None]]]) -> dict[str, Any]:
    """--wait: poll the run to its end, showing each status through `showing` (nothing with --json)."""
    if as_json:
        return app.wait(started["statusQueryGetUri"], lambda status: None)
    with showing() as show:
        return app.wait(started["statusQueryGetUri"], show)


def _output(final: dict[str, Any]) -> dict[str, Any]:
    """The run's output when it is an object (a failed orchestration's output is its error text)."""
    output = final.get("output")
    return output if isinstance(output, dict) else {}


# ------------------------------------------------------------------------------------------------ copy


def _copy_table(output: dict[str, Any]) -> Table:
    what = output.get("modelId") or f"classifier {output.get('classifierId')}"
    table = Table(title=f"copy of {what} from {output.get('source')}: {output.get('status')}")
    for col in ("target", "status", "replica id", "attempts", "error", "hint"):
        table.add_column(col, overflow="fold")
    for alias, result in sorted((output.get("targets") or {}).items()):
        error = result.get("error") or {}
        table.add_row(alias, Text(str(result.get("status")), style=OUTCOME_STYLES.get(result.get("status"), "")),
                      result.get("targetModelId") or "—", str(result.get("attempts", "")), error.get("code") or "",
                      error.get("hint") or "")
    return table


@cli.command()
@click.argument("model_id", metavar="ID")
@click.option("--to", "targets", multiple=True, metavar="ALIAS", help="Target alias (repeat; default FERRY_TARGETS).")
@click.option("--from", "source", metavar="ALIAS", help="Source alias (default FERRY_SOURCE).")
@click.option("--classifier", is_flag=True, help="ID is a custom classifier, not a model.")
@click.option("--wait", is_flag=True, help="Follow the copy until it ends and show each target's result.")
@app_options
def copy(model_id: str, targets: tuple[str, ...], source: str | None, classifier: bool, wait: bool, *, app: App,
         as_json: bool) -> int:
    """Copy model (or classifier) ID from the source to the targets (POST /api/copies)."""
    body: dict[str, Any] = {"classifierId" if classifier else "modelId": model_id}
    if source:
        body["source"] = source
    if targets:
        body["targets"] = list(targets)
    _, started = app.request("POST", "copies", body=body, ok=(200, 202))
    if not wait:
        return _started("copy", started, as_json)
    out = console()

    @contextlib.contextmanager
    def spinner() -> Iterator[Callable[[dict[str, Any]], None]]:
        with out.status(f"copying {model_id} …") as status_line:
            def show(status: dict[str, Any]) -> None:
                stages = (status.get("customStatus") or {}).get("targets") or {}
                text = ", ".join(f"{a}: {(s or {}).get('stage', '?')}" for a, s in sorted(stages.items()))
                status_line.update(f"copying {model_id} … {text}")
            yield show
    final = _follow(app, started, as_json, spinner)
    output = _output(final)
    ok = final.get("runtimeStatus") == "Completed" and output.get("status") == "succeeded"
    if as_json:
        emit_json(final)
    elif output.get("targets") is not None:
        out.print(_copy_table(output))
    else:
        out.print(Text(f"the copy ended {final.get('runtimeStatus')}: {final.get('output')}", style="red"))
    return EXIT_OK if ok else EXIT_FAILED


# ------------------------------------------------------------------------------------------------ sync


def _sync_table(output: dict[str, Any]) -> Table:
    cols = ("copied", "upToDate", "replaced", "conflict", "skipped", "pruned", "failed")
    title = f"sync of {output.get('source')}{' (dry run)' if output.get('dryRun') else ''}: {output.get('status')}"
    table = Table(title=title)
    table.add_column("target")
    for col in cols:
        table.add_column(col, justify="right")
    for alias, counts in sorted((output.get("counts") or {}).items()):
        table.add_row(alias, *[Text(str(counts.get(c, 0)), style="red" if c == "failed" and counts.get(c) else "")
                               for c in cols])
    return table


def _items_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="every row that was not up to date")
    for col in ("id", "target", "action", "result", "error", "hint"):
        table.add_column(col, overflow="fold")
    for item in items:
        error = item.get("error") or {}
        table.add_row(str(item.get("id")), str(item.get("target")), str(item.get("action")),
                      Text(str(item.get("result")), style="red" if item.get("result") == "failed" else ""),
                      error.get("code") or "", error.get("hint") or "")
    return table


class _SyncProgress:
    """One progress bar per target from the sync's custom status: done/total, throughput, ETA, 429s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, status: dict[str, Any]) -> None:
        custom = status.get("customStatus") or {}
        rate = custom.get("throughput")
        for alias, p in sorted((custom.get("progress") or {}).items()):
            fields = {"throttled": p.get("throttled", 0), "rate": f"{rate:.1f}/min" if isinstance(rate, int | float)
                      else ""}
            if alias not in self.tasks:
                self.tasks[alias] = self.progress.add_task(alias, total=p.get("total") or None, **fields)
            self.progress.update(self.tasks[alias], completed=p.get("done", 0), total=p.get("total") or None,
                                 **fields)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only plan: show what would be copied, change nothing.")
@click.option("--prune", is_flag=True, help="Also delete ModelFerry copies whose source model is gone.")
@click.option("--include", multiple=True, metavar="PATTERN", help="Only ids matching (shell-style; repeat).")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Leave out ids matching (repeat).")
@click.option("--from", "source", metavar="ALIAS", help="Source alias (default FERRY_SOURCE).")
@click.option("--to", "targets", multiple=True, metavar="ALIAS", help="Target alias (repeat).")
@click.option("--on-stale", type=click.Choice(["replace", "keep", "fail"]), help="What to do with stale replicas.")
@click.option("--wait", is_flag=True, help="Show live progress per target and the final table.")
@app_options
def sync(dry_run: bool, prune: bool, include: tuple[str, ...], exclude: tuple[str, ...], source: str | None,
         targets: tuple[str, ...], on_stale: str | None, wait: bool, *, app: App, as_json: bool) -> int:
    """Replicate every model of the source to every target (POST /api/sync)."""
    body: dict[str, Any] = {"dryRun": dry_run, "prune": prune}
    for key, value in (("include", list(include)), ("exclude", list(exclude)), ("targets", list(targets))):
        if value:
            body[key] = value
    if source:
        body["source"] = source
    if on_stale:
        body["onStale"] = on_stale
    status_code, started = app.request("POST", "sync", body=body, ok=(200, 202, 409))
    if status_code == 409:
        if as_json:
            emit_json(started)
        error = (started or {}).get("error") or {}
        running = str((started or {}).get("statusQueryGetUri", "")).split("?")[0].rsplit("/", 1)[-1]
        raise CliError(f"{error.get('code', 'Conflict')}: {error.get('message', 'another sync of this source runs')}",
                       f"Follow the running sync with: modelferry status {running}", payload=started)
    if not wait:
        return _started("sync", started, as_json)
    out = console()

    @contextlib.contextmanager
    def bars() -> Iterator[Callable[[dict[str, Any]], None]]:
        columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                   TextColumn("429s: {task.fields[throttled]}"))
        with Progress(*columns, console=out, transient=False) as progress:
            yield _SyncProgress(progress)
    final = _follow(app, started, as_json, bars)
    output = _output(final)
    failed = any((c or {}).get("failed") for c in (output.get("counts") or {}).values())
    ok = final.get("runtimeStatus") == "Completed" and output.get("status") not in ("failed", "partial") \
        and not failed
    if as_json:
        emit_json(final)
    elif output:
        out.print(_sync_table(output))
        if output.get("items"):
            out.print(_items_table(output["items"]))
        for warning in output.get("warnings") or []:
            out.print(Text(f"warning: {warning if isinstance(warning, str) else json.dumps(warning)}",
                           style="yellow"))
    else:
        out.print(Text(f"the sync ended {final.get('runtimeStatus')}: {final.get('output')}", style="red"))
    return EXIT_OK if ok else EXIT_FAILED


# ------------------------------------------------------------------------------------------------ runs


def _find_run(app: App, instance: str) -> dict[str, Any]:
    rows = app.get("runs").get("runs") or []
    exact = [r for r in rows if r.get("instanceId") == instance]
    found = exact or [r for r in rows if str(r.get("instanceId", "")).startswith(instance)]
    if not found:
        raise CliError(f"no copy or sync run {instance!r} is known to the app",
                       "`modelferry runs` lists the runs (use the instance id it shows).")
    if len(found) > 1:
        raise CliError(f"{instance!r} matches {len(found)} runs: "
                       f"{', '.join(r['instanceId'] for r in found[:5])}", "Give more of the instance id.",
                       exit_code=EXIT_USAGE)
    return found[0]


@cli.command()
@click.argument("instance", metavar="INSTANCE")
@app_options
def status(instance: str, *, app: App, as_json: bool) -> int:
    """Show one run (copy or sync) by its instance id (or a unique prefix of it)."""
    row = _find_run(app, instance)
    full = app.follow(row["statusQueryGetUri"]) if row.get("statusQueryGetUri") else {}
    ok = row.get("runtimeStatus") in RUNNING or (row.get("outcome") == "succeeded" and not row.get("error"))
    if as_json:
        emit_json({"run": row, "status": full})
        return EXIT_OK if ok else EXIT_FAILED
    out = console()
    head = Table.grid(padding=(0, 2))
    head.add_row("run", Text(row["instanceId"], style="bold"))
    head.add_row("kind", f"{row['kind']} ({row['name']})")
    what = row.get("artifactId") or row.get("source") or ""
    head.add_row("what", f"{what}{' from ' + row['source'] if row.get('artifactId') and row.get('source') else ''}")
    head.add_row("state", Text(row["runtimeStatus"] + (f" · {row['outcome']}" if row.get("outcome") else ""),
                               style=OUTCOME_STYLES.get(row.get("outcome") or "", "")))
    head.add_row("created", when(row.get("createdTime")))
    head.add_row("updated", when(row.get("lastUpdatedTime")))
    if row.get("error"):
        head.add_row("error", Text(f"{row['error'].get('code')}: {row['error'].get('message', '')}", style="red"))
        head.add_row("hint", row["error"].get("hint") or "")
    out.print(head)
    output = full.get("output") if isinstance(full.get("output"), dict) else {}
    custom = full.get("customStatus") if isinstance(full.get("customStatus"), dict) else {}
    if row["kind"] == "copy" and output.get("targets") is not None:
        out.print(_copy_table(output))
    elif row["kind"] == "copy" and custom.get("targets"):
        table = Table(title="targets")
        table.add_column("target")
        table.add_column("stage")
        for alias, entry in sorted(custom["targets"].items()):
            table.add_row(alias, str((entry or {}).get("stage")))
        out.print(table)
    elif row["kind"] == "sync" and output.get("counts") is not None:
        out.print(_sync_table(output))
    elif row["kind"] == "sync" and custom.get("progress"):
        table = Table(title=f"progress ({custom.get('stage')})")
        for col in ("target", "done", "total", "429s"):
            table.add_column(col)
        for alias, p in sorted(custom["progress"].items()):
            table.add_row(alias, str(p.get("done")), str(p.get("total")), str(p.get("throttled", 0)))
        out.print(table)
    return EXIT_OK if ok else EXIT_FAILED


@cli.command("runs")
@click.option("--failed", is_flag=True, help="Only runs that did not fully succeed.")
@click.option("--since", metavar="WHEN", help="24h, 7d, 30m, 2w or an ISO-8601 time.")
@click.option("--kind", type=click.Choice(["copy", "sync"]), help="Only copies or only syncs.")
@app_options
def runs_cmd(failed: bool, since: str | None, kind: str | None, *, app: App, as_json: bool) -> int:
    """Every copy and sync run with its outcome, newest first (GET /api/runs)."""
    body = app.get("runs", failed="true" if failed else None, since=since, kind=kind)
    if as_json:
        emit_json(body)
        return EXIT_OK
    rows = body.get("runs") or []
    table = Table(title=f"{len(rows)} run(s){' that failed' if failed else ''}{' since ' + since if since else ''}")
    for col in ("created", "kind", "what", "status", "instance", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        outcome = r.get("outcome") or r.get("runtimeStatus")
        error = r.get("error") or {}
        what = r.get("artifactId") or r.get("source") or ""
        table.add_row(when(r.get("createdTime")), r.get("kind"), what,
                      Text(str(outcome), style=OUTCOME_STYLES.get(str(outcome), "")), r.get("instanceId"),
                      f"{error.get('code', '')}{' → ' + error['target'] if error.get('target') else ''}")
    console().print(table)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ replicas


def _matrix(catalog: dict[str, Any]) -> Table:
    source = catalog.get("source") or {}
    reach = "reachable" if source.get("reachable") else "UNREACHABLE"
    table = Table(title=f"replicas of {source.get('alias')} ({source.get('region')}, {reach})",
                  caption=f"catalog read {when(catalog.get('generatedAt'))} UTC, {catalog.get('ageSeconds')} s old")
    table.add_column("artifact", overflow="fold")
    targets = list((catalog.get("targets") or {}).items())
    for alias, t in targets:
        table.add_column(f"{alias} ({t.get('region')})" + ("" if t.get("reachable") else " ✗"))
    for row in catalog.get("replicas") or []:
        cells = []
        for alias, _ in targets:
            state = (row.get("targets", {}).get(alias) or {}).get("state", "missing")
            cells.append(Text(state, style=STATE_STYLES.get(state, "")))
        kind = row.get("kind") or "model"
        table.add_row(row["id"] + ("" if kind == "model" else f" ({kind})"), *cells)
    return table


def _detail(catalog: dict[str, Any], artifact: str) -> Table:
    row = next((r for r in catalog.get("replicas") or [] if r["id"] == artifact), None)
    if row is None:
        raise CliError(f"no artifact {artifact!r} in the catalog of {catalog.get('source', {}).get('alias')}",
                       "`modelferry replicas` lists them; add --refresh to re-read the inventories.")
    table = Table(title=f"{artifact} (source created {when(row.get('sourceCreated'))})")
    for col in ("target", "region", "state", "replica id", "endpoint", "verified", "expires", "note"):
        table.add_column(col, overflow="fold")
    for alias, c in row["targets"].items():
        note = (c.get("error") or {}).get("hint") or c.get("reason") or ""
        table.add_row(alias, c.get("region"), Text(c.get("state"), style=STATE_STYLES.get(c.get("state"), "")),
                      c.get("modelId") or "—", c.get("endpoint"), when(c.get("verifiedAt")), when(c.get("expiresAt")),
                      note)
    return table


@cli.command()
@click.argument("artifact", metavar="[ID]", required=False)
@click.option("--region", metavar="REGION", help="With ID: the one replica to use in this region (or target alias).")
@click.option("--from", "source", metavar="ALIAS", help="Source alias (default FERRY_SOURCE).")
@click.option("--refresh", is_flag=True, help="Re-read every inventory now instead of the last known state.")
@click.option("--export", "export", type=click.Path(dir_okay=False, writable=True, path_type=Path), metavar="FILE",
              help="Write the failover export {id: {region: {endpoint, modelId}}} to FILE.")
@app_options
def replicas(artifact: str | None, region: str | None, source: str | None, refresh: bool, export: Path | None, *,
             app: App, as_json: bool) -> int:
    """Which replica of which model is where, and in which state (GET /api/replicas)."""
    common = {"source": source, "refresh": "true" if refresh else None}
    if region and not artifact:
        raise CliError("--region needs an ID", "modelferry replicas ID --region westus2", exit_code=EXIT_USAGE)
    if export is not None:
        data = app.get("replicas", format="failover", id=artifact, **common)
        try:
            export.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {export}: {exc.strerror}", "Choose a writable path.") from None
        if as_json:
            emit_json(data)
        else:
            pairs = sum(len(v) for v in data.values())
            console().print(f"wrote {len(data)} model(s), {pairs} replica(s) to {export}")
        return EXIT_OK
    if artifact and region:
        found = app.get(f"replicas/{artifact}", region=region, **common)
        if as_json:
            emit_json(found)
        else:
            console().print(f"use [bold]{found['modelId']}[/bold] at {found['endpoint']} (region {found['region']}, "
                            f"apiVersion {found['apiVersion']}, verified {when(found.get('verifiedAt'))} UTC)")
        return EXIT_OK
    catalog = app.get("replicas", id=artifact if artifact and any(ch in artifact for ch in "*?[") else None,
                      **common)
    exact = artifact and not any(ch in artifact for ch in "*?[")
    if as_json:
        if exact:
            catalog = dict(catalog, replicas=[r for r in catalog.get("replicas", []) if r["id"] == artifact])
        emit_json(catalog)
        return EXIT_OK
    console().print(_detail(catalog, artifact) if exact else _matrix(catalog))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ doctor


@cli.command()
@app_options
def doctor(*, app: App, as_json: bool) -> int:
    """Check the app's settings, Key Vault and every resource; every problem with its fix (GET /api/doctor)."""
    report = app.get("doctor")
    if as_json:
        emit_json(report)
        return EXIT_OK if report.get("ok") else EXIT_FAILED
    out = console()
    table = Table(title="resources")
    for col in ("alias", "role", "region", "apiVersion", "auth", "credential", "models", "classifier copy"):
        table.add_column(col, overflow="fold")
    for alias, r in (report.get("resources") or {}).items():
        models = r.get("models") or {}
        cc = r.get("classifierCopy") or {}
        table.add_row(alias, r.get("role"), r.get("region"), r.get("apiVersion"), r.get("auth"),
                      Text("ok" if r.get("credentialOk") else "FAILED", style="green" if r.get("credentialOk")
                           else "bold red"),
                      f"{models.get('count')}/{models.get('limit')}" if models else "—",
                      "yes" if cc.get("supported") else f"no: {cc.get('reason', '')}")
    out.print(table)
    problems = report.get("problems") or []
    if problems:
        ptable = Table(title=f"{len(problems)} problem(s)")
        for col in ("severity", "where", "problem", "fix"):
            ptable.add_column(col, overflow="fold")
        for p in problems:
            ptable.add_row(Text(p.get("severity", ""), style="bold red" if p.get("severity") == "error" else "yellow"),
                           p.get("where"), f"{p.get('code')}: {p.get('message')}", p.get("fix"))
        out.print(ptable)
    out.print(Text("all checks passed" if report.get("ok") else "problems found: see the fixes above",
                   style="bold green" if report.get("ok") else "bold red"))
    return EXIT_OK if report.get("ok") else EXIT_FAILED


# ------------------------------------------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (usage errors print Click's message and return 2)."""
    try:
        result = cli.main(args=argv, prog_name="modelferry", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return result if isinstance(result, int) else EXIT_OK
