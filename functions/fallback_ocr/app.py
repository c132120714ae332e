"""FallbackOcr: while Textract's breaker is open, read the document with the local OCR engine (degraded, flagged)."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe_local.engine.fallback import analyze

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    document_id, plan = event["document"]["documentId"], event["plan"]
    logger.append_keys(uploadId=event["uploadId"], documentId=document_id)
    state = analyze(s3, plan=plan, bucket=event["bucket"], key=event["key"], version_id=event.get("versionId"),
                    document_id=document_id, execution_name=event["executionName"],
                    results_bucket=config.documents_bucket(), results_prefix=config.results_prefix())
    metrics.add_metric(name="DocumentsReadByFallback", unit=MetricUnit.Count, value=1)
    logger.info("Document read by the local OCR fallback", extra={"api": plan["api"], "status": state["status"]})
    return dict(state)
