"""The web UI: server-rendered pages, htmx fragments and chart data, served by the API's process.

Pages are routers here (one module per area) rendering the Jinja2 templates of ``modelyard.ui``;
they call the same services as the API with the request's principal, so there is no second
permission model. ``paths`` says which URLs belong to the UI (they accept the session cookie, and
only they); ``guard`` puts the security headers on their answers and refuses a state-changing
request without the session's CSRF token; ``mount.mount_ui`` adds it all to the app.
docs/ui-development.md describes the conventions.
"""
