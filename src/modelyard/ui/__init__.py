"""The web UI's files: Jinja2 templates (``templates/``) and static files (``static/``: our CSS and
scripts, and the third-party ones under ``static/vendor/``, recorded in ``VENDORED.json`` by
``scripts/vendor-ui.sh``). No code of the UI lives here: the pages are routers in ``api/ui``."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
