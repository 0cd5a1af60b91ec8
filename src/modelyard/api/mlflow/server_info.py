"""MLflow 3's ``server-info``: the client asks it what the server supports before artifact transfers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelyard.api.body import json_response
from modelyard.api.openapi import documented
from modelyard.schemas.tracking_api import ServerInfo

router = APIRouter()

_INFO = {
    "store_type": "SqlStore",
    "workspaces_enabled": False,
    "trace_archival_enabled": False,
    # Artifacts are proxied and streamed; multipart and presigned transfers are not offered.
    "multipart_uploads_enabled": False,
    "multipart_downloads_enabled": False,
    "presigned_upload_run_id_supported": False,
    "presigned_upload_model_id_supported": False,
    "features_enabled": {"gateway": False},
}


@router.get("/server-info")
@documented(response=ServerInfo)
async def server_info() -> Response:
    return json_response(_INFO)
