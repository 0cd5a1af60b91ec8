"""docs/cli.md covers every command, as the command tree has it: a heading per command group and per
command, and in each command's section a synopsis that names exactly the command's own options. A
command, or an option, added or removed without the page following fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from modelyard.cli import serve_model
from modelyard.cli.group import load
from modelyard.cli.main import Root

DOC = Path(__file__).parents[2] / "docs" / "cli.md"
HEADING = re.compile(r"^(#{2,3}) `modelyard ([a-z][a-z -]*)`$")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b")
GLOBAL = {"--url", "--token", "--username", "--json", "--help", "-h"}


def tree() -> tuple[dict[str, Any], set[str]]:
    """Every command that runs, by path (``"runs list"``), and every group's path."""
    leaves: dict[str, Any] = {}
    groups: set[str] = set()

    def walk(path: str, command: Any) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            leaves[path] = command
            return
        groups.add(path)
        for name, sub in subs.items():
            walk(f"{path} {name}", sub)

    for name, lazy in Root.lazy.items():
        walk(name, load(name, lazy))
    return leaves, groups


def sections() -> dict[str, str]:
    """The text under each ``modelyard ...`` heading, up to the next heading."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            match = HEADING.match(line)
            current = match[2] if match else None
            if current is not None:
                assert current not in found, f"two headings for `modelyard {current}`"
                found[current] = ""
            continue
        if current is not None:
            found[current] += line + "\n"
    return found


def options_of(path: str, command: Any) -> set[str]:
    if path == "serve-model":  # its options are argparse's (cli/serve_model.py says why)
        names = {o for action in serve_model.parser()._actions for o in action.option_strings}
    else:
        names = {
            o for p in command.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))
        }
    return {o for o in names if o.startswith("-")} - GLOBAL


def synopsis(text: str) -> str:
    """The section's first code block."""
    match = re.search(r"^```\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert match, "no synopsis"
    return match[1]


def test_every_command_and_group_has_its_heading_and_nothing_else_does() -> None:
    leaves, groups = tree()
    documented = sections()
    assert set(documented) == set(leaves) | groups, (
        f"undocumented: {sorted(set(leaves) | groups - set(documented))}; "
        f"documented but not a command: {sorted(set(documented) - set(leaves) - groups)}"
    )


def test_each_synopsis_names_exactly_the_commands_options() -> None:
    leaves, _ = tree()
    documented = sections()
    for path, command in leaves.items():
        text = synopsis(documented[path])
        assert all(
            line.lstrip().startswith("modelyard") or line.startswith(" ") for line in text.splitlines()
        )
        assert f"modelyard {path}" in text, path
        shown = set(OPTION.findall(text)) - GLOBAL
        assert shown == options_of(path, command), (
            f"`modelyard {path}`: documented but not an option: {sorted(shown - options_of(path, command))}; "
            f"options not documented: {sorted(options_of(path, command) - shown)}"
        )


def test_the_command_table_lists_every_group() -> None:
    leaves, groups = tree()
    table = DOC.read_text().split("## Global options")[0]
    for name in {path.split()[0] for path in [*leaves, *groups]}:
        assert f"| `{name}" in table, name


def test_help_lists_each_command_with_its_own_summary() -> None:
    # `modelyard --help` shows a summary kept beside each lazily loaded command: it must be the
    # command's own help, word for word
    for name, lazy in Root.lazy.items():
        command = load(name, lazy)
        assert " ".join(lazy.summary.split()) == " ".join((command.help or "").split()), name
