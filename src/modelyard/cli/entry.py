"""The ``modelyard`` executable's entry point.

``modelyard serve-model`` starts every deployment replica, and its cold start counts: it goes
straight to the serving command without importing typer (0.1-0.2 s with the pydantic it coerces
parameters with). Every other command goes through the typer app in ``main``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["serve-model"]:
        from modelyard.cli import serve_model

        serve_model.main(sys.argv[2:])
        return
    from modelyard.cli.main import main as full_main

    full_main()


if __name__ == "__main__":
    main()
