"""What a deployment is doing, in words, and waiting for it to settle while showing its progress.

Commands that change a deployment wait by default until the controller has applied the change and the
phase is ``Deployed``, ``Stopped`` or ``Failed``. Meanwhile the progress goes to stderr (stdout stays
for the result, and for ``--json``): on a terminal a live view — phase, replicas ready of wanted, the
controller's message, each replica's state and message (starting, building its environment, crashed
and restarting) — redrawn in place; elsewhere (CI logs, pipes) one line each time any of that changes.
A deployment that ends ``Failed`` prints why, with its replicas' last error lines, and exits with 1.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table

from modelyard.cli import output
from modelyard.client import Client, ModelyardError

PHASE_STYLES = {
    "Deployed": "green",
    "Deploying": "cyan",
    "Stopping": "yellow",
    "Stopped": "dim",
    "Failed": "red",
}
DEFAULT_TIMEOUT_S = 300.0
POLL_S = 0.5


def phase_text(phase: str) -> str:
    style = PHASE_STYLES.get(phase)
    return f"[{style}]{escape(phase)}[/{style}]" if style else escape(phase)


def desired(spec: dict[str, Any]) -> int:
    return 0 if spec.get("stop") else sum(int(p.get("replicas", 0)) for p in spec.get("predictors", []))


def replicas_text(d: dict[str, Any]) -> str:
    """``2 of 3 replica(s) ready``; for a stopped spec, what still runs."""
    status = d["status"]
    if d["spec"].get("stop"):
        running = len(status.get("replicas_detail") or [])
        return f"{running} replica(s) still draining" if running else "no replica runs"
    return f"{status['available_replicas']} of {desired(d['spec'])} replica(s) ready"


def state_line(d: dict[str, Any]) -> str:
    """``Deployment NAME is PHASE, N of M replica(s) ready.`` and, while it is not settled fine, what
    the controller's message adds to that, on one line (rich markup)."""
    status = d["status"]
    counts = replicas_text(d)
    line = f"Deployment [bold]{escape(d['name'])}[/bold] is {phase_text(status['phase'])}, {counts}."
    if status["phase"] not in ("Deployed", "Stopped"):
        extra = _news(status["phase"], " ".join(str(status["message"]).split()), counts)
        if extra:
            line += f" {escape(extra)}"
    return line


def _news(phase: str, message: str, counts: str) -> str:
    """The controller's message without what the line says already: its ``Phase:`` prefix and its
    replica count (``Deploying: 1 of 2 replica(s) available; replica x crashed ...`` → ``replica x
    crashed ...``)."""
    rest = message.removeprefix(f"{phase}: ")
    rest = _AVAILABLE.sub("", rest).strip()
    if rest.rstrip(".") == counts:
        return ""
    return rest[:1].upper() + rest[1:] if rest != message else rest


_AVAILABLE = re.compile(r"^\d+ of \d+ replica\(s\) available(; |\.$)")


def _replica_rows(d: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    for r in d["status"].get("replicas_detail") or []:
        message = output.shorten(" ".join(str(r.get("message") or "").split()), 100)
        table.add_row(f"  {escape(r['name'])}", escape(r["state"]), escape(message))
    return table


class _View:
    """Renders each poll: a live view on a terminal, else a line whenever something changed."""

    def __init__(self, console: Console, name: str) -> None:
        self.console = console
        self.name = name
        self.started = time.monotonic()
        self.live: Live | None = None
        self.last: tuple[Any, ...] | None = None

    def __call__(self, d: dict[str, Any]) -> None:
        status = d["status"]
        elapsed = time.monotonic() - self.started
        if self.live is not None:
            head = f"{state_line(d)} [dim]({elapsed:.0f}s)[/dim]"
            self.live.update(Group(Spinner("dots", head), _replica_rows(d)))
            return
        seen = (
            status["phase"],
            status["available_replicas"],
            status["message"],
            tuple((r["name"], r["state"], r.get("message")) for r in status.get("replicas_detail") or []),
        )
        if seen != self.last and status["phase"] != "Failed":  # a failure is reported in full after
            self.last = seen
            self.console.print(f"[dim]{elapsed:5.1f}s[/dim] {state_line(d)}", soft_wrap=True)
            for r in status.get("replicas_detail") or []:
                message = " ".join(str(r.get("message") or "").split())
                self.console.print(
                    f"        {escape(r['name'])}: {escape(r['state'])} {escape(message)}".rstrip()
                )


def wait(client: Client, name: str, timeout: float) -> dict[str, Any]:
    """The deployment once settled (``Deployed``, ``Stopped`` or ``Failed``: see ``failed``); exit 1
    with the reason when it is still changing after ``timeout`` seconds."""
    err = Console(file=sys.stderr, highlight=False, emoji=False)
    view = _View(err, name)
    try:
        if err.is_terminal:
            with Live(console=err, transient=True, refresh_per_second=8) as live:
                view.live = live
                found = client.deployments.wait(name, timeout=timeout, poll=POLL_S, on_poll=view)
        else:
            found = client.deployments.wait(name, timeout=timeout, poll=POLL_S, on_poll=view)
    except ModelyardError as exc:
        if exc.error_code != "DEADLINE_EXCEEDED":
            raise
        output.fail(
            f"{exc.message}. It goes on in the background: `modelyard deploy show {name}` and "
            f"`modelyard logs {name}` show how it is doing."
        )
    return found


def failed(d: dict[str, Any]) -> None:
    """Print why the deployment failed (the message's lines as they are: a loader's error spans
    several) on stderr, how to retry, and exit 1."""
    err = Console(file=sys.stderr, highlight=False, emoji=False, soft_wrap=True)
    name = escape(d["name"])
    lines = str(d["status"]["message"]).splitlines() or ["(no message)"]
    err.print(f"[bold red]Error:[/bold red] [red]deployment {name} failed: {escape(lines[0])}[/red]")
    for line in lines[1:]:
        err.print(f"    {escape(line)}")
    err.print(
        f"Fix the cause, then try again with `modelyard deploy restart {name}`, or change the spec "
        f"(`modelyard deploy update {name} ...`); `modelyard logs {name}` has the replicas' output."
    )
    raise typer.Exit(1)
