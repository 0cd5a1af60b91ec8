"""The executable's fast path: `modelyard serve-model` must not import the platform's server side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli.main import app


def test_serve_model_starts_without_the_rest_of_the_cli() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['modelyard', 'serve-model', '--help']\n"
        "from modelyard.cli.entry import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'fastapi', 'modelyard.api', 'modelyard.client') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--model-uri" in out.stdout
    assert "HEAVY=\n" in out.stdout


def test_other_commands_go_through_the_full_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "modelyard", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for command in ("server", "serve-model", "runs", "models", "audit"):
        assert command in out.stdout


def test_the_full_cli_hands_serve_model_its_arguments(tmp_path: Path) -> None:
    # `modelyard serve-model` takes the fast path; the typer app's command must work the same
    result = CliRunner().invoke(app, ["serve-model", "--model-uri", str(tmp_path / "nope"), "--port", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: cannot serve {tmp_path / 'nope'}: model directory {tmp_path / 'nope'} does not exist"
    )
