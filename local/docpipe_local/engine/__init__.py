"""A Textract-compatible engine for the local twin: the handlers' boto3 Textract calls, answered
in-process with real response shapes, from PDF text layers and RapidOCR.

    engine = LocalTextract(s3_client_factory=lambda: boto3.client("s3"), clock=clock.now)
    engine.install(boto3.DEFAULT_SESSION)   # clients created from now on call the engine
"""

from docpipe_local.engine.errors import LocalTextractError
from docpipe_local.engine.faults import FaultPlan
from docpipe_local.engine.service import CallRecord, LocalTextract

__all__ = ["CallRecord", "FaultPlan", "LocalTextract", "LocalTextractError"]
