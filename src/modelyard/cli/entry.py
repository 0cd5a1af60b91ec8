"""The ``modelyard`` executable's entry point.

``modelyard serve-model`` starts every deployment replica, and its cold start counts: it goes
straight to the serving command without importing the rest of the CLI (which pulls in the server,
SQLAlchemy and the client). Every other command goes through the full typer app in ``main``.
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
