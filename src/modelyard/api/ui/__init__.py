"""The web UI: its pages, fragments and the JSON data they fetch (``data``)."""
