"""The upload pipeline, as rooms a newcomer can name (see README "Layout"): the pipeline
that composes them, each file's job and its state machine, the scheduler, the stages,
single flight, integrity, resume, the observers and the journal link."""

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
from app.core.pipeline.observe import Observer
from app.core.pipeline.pipeline import UploadPipeline
from app.core.pipeline.stages import THUMBNAIL_CONTENT_TYPE
from app.core.pipeline.tools import Thumbnailer

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
