"""The upload pipeline, as rooms: the pipeline itself, each file's record, where files go
(context) and the integrity checks. See README "Layout"."""

from app.core.pipeline.integrity import (
    CHANGED_BEFORE_UPLOAD,
    CHANGED_DURING_UPLOAD,
    CHANGED_WHILE_READING,
    CHANGED_WHILE_SENDING,
    FOLDER_GONE,
    GONE_DURING_UPLOAD,
    VERIFY_MISMATCH,
    describe_unreadable,
    identity_problem,
)
from app.core.pipeline.pipeline import (
    THUMBNAIL_CONTENT_TYPE,
    Observer,
    Thumbnailer,
    UploadPipeline,
)

__all__ = [
    "CHANGED_BEFORE_UPLOAD",
    "CHANGED_DURING_UPLOAD",
    "CHANGED_WHILE_READING",
    "CHANGED_WHILE_SENDING",
    "FOLDER_GONE",
    "GONE_DURING_UPLOAD",
    "THUMBNAIL_CONTENT_TYPE",
    "VERIFY_MISMATCH",
    "Observer",
    "Thumbnailer",
    "UploadPipeline",
    "describe_unreadable",
    "identity_problem",
]
