"""Tracking: experiments, runs (params, metrics, tags, inputs, outputs), metric histories, run search and
logged models — the half of the MLflow API that training code writes to.

Exports ``ExperimentService``, ``TrackingService`` (runs), ``LoggedModelService``, and for the web UI
``ChartService`` (downsampled metric charts), ``ColumnService`` (the keys a runs table can show) and
``CompareService`` (the runs of a comparison a user may read), ``DatasetService`` (dataset versions and
the runs that used them) and ``RunTableService`` (the runs table: keyset windows of one or several
experiments' runs). Depends on
``audit`` and ``common`` only; the registry depends on it (a model version comes from a run), never the
other way round.
"""

from modelyard.services.tracking.charts import ChartService
from modelyard.services.tracking.columns import ColumnService
from modelyard.services.tracking.compare import CompareService
from modelyard.services.tracking.datasets import DatasetService
from modelyard.services.tracking.experiments import ExperimentService
from modelyard.services.tracking.logged_models import LoggedModelService
from modelyard.services.tracking.run_table import RunTableService
from modelyard.services.tracking.runs import TrackingService

__all__ = [
    "ChartService",
    "ColumnService",
    "CompareService",
    "DatasetService",
    "ExperimentService",
    "LoggedModelService",
    "RunTableService",
    "TrackingService",
]
