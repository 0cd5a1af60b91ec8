"""Terminal output for the client commands (rich tables, JSON, values) and their shared plumbing:
which server to talk to, and turning a failure into one red line and exit code 1.

Consoles are made per call, not at import, so they write to whatever ``sys.stdout`` is at that moment
(a test runner's capture included). Width follows the terminal, or ``COLUMNS`` when piped. They replace
no ``:emoji:`` codes: a run named ``ship:rocket:`` is shown as it is named.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.cli import options
from modelyard.client import Client, ModelyardError

MISSING = "-"
CLI_RETRIES = 2
CLI_BACKOFF_S = 0.25
STATUS_STYLES = {
    "FINISHED": "green",
    "RUNNING": "cyan",
    "SCHEDULED": "cyan",
    "FAILED": "red",
    "KILLED": "yellow",
}


def console() -> Console:
    return Console(file=sys.stdout, highlight=False, emoji=False)


def fail(message: str) -> NoReturn:
    """Print ``Error: <message>`` in red on stderr, on one line, and exit with status 1."""
    line = " ".join(message.split())
    Console(file=sys.stderr, highlight=False, emoji=False).print(
        f"[bold red]Error:[/bold red] [red]{escape(line)}[/red]"
    )
    raise typer.Exit(1)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Failures a user can cause (server errors, bad input, files) end the command cleanly, no traceback."""
    try:
        yield
    except ModelyardError as exc:
        fail(str(exc))
    except (ValueError, OSError) as exc:
        fail(str(exc) or type(exc).__name__)


def connect(ctx: typer.Context) -> Client:
    """A client for the ``--url`` given (after the command, else before it), else the client's own
    default; with the ``--token`` (and ``--username``) given, else the client's own resolution
    (environment, then the user's config file)."""
    given = options.chosen(ctx)
    # A person is waiting: retry briefly (about a second), not the SDK's patient default.
    return Client(
        given.url,
        token=given.token,
        username=given.username,
        max_retries=CLI_RETRIES,
        backoff=CLI_BACKOFF_S,
    )


def wants_json(ctx: typer.Context) -> bool:
    """Whether ``--json`` was given (before or after the command)."""
    return options.wants_json(ctx)


def print_json(data: Any) -> None:
    # Plain stdout, not rich: JSON must stay byte-for-byte parseable when piped.
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_json_line(data: Any) -> None:
    """One JSON document on one line, flushed (for a stream that a script reads as it comes)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(*columns: str, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    for name in columns:
        t.add_column(name, overflow="fold")
    return t


def format_time(ms: int | None, *, seconds: bool = True) -> str:
    """A timestamp in milliseconds as local time."""
    if not ms:
        return MISSING
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    if not start_ms or not end_ms or end_ms < start_ms:
        return MISSING
    seconds = (end_ms - start_ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_number(value: float, digits: int = 10) -> str:
    return f"{value:.{digits}g}"


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} GB"  # pragma: no cover - the loop always returns


def status_text(status: str) -> str:
    style = STATUS_STYLES.get(status)
    return f"[{style}]{escape(status)}[/{style}]" if style else escape(status)


def yes_no(value: object) -> str:
    return "yes" if value else "no"


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 date or date-time (local time unless it says otherwise); a clear error else."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T14:00.",
            param_hint=option,
        ) from None


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
