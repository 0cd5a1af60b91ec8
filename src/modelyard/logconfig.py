"""How ``modelyard server`` logs: uvicorn's own configuration, plus the platform's loggers
(``modelyard.*``: what the deployment controller decides and what happens to each replica, the model
cache, the lease) at the server's log level, each line with its time. Without it only uvicorn's lines
would show, and the controller's INFO lines would go nowhere."""

from __future__ import annotations

import copy
from typing import Any

from uvicorn.config import LOGGING_CONFIG

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def server_log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's ``log_config``: applied in every server process."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["modelyard"] = {"format": FORMAT}
    config["handlers"]["modelyard"] = {
        "class": "logging.StreamHandler",
        "formatter": "modelyard",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["modelyard"] = {"handlers": ["modelyard"], "level": level.upper(), "propagate": False}
    return config
