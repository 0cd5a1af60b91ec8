"""The executable's fast path: `modelyard serve-model` must not import the platform's server side."""

from __future__ import annotations

import subprocess
import sys


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
