"""RegisterDocument: claim the document record by content hash, or mark the upload a DUPLICATE."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe.records import register

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ddb = boto3.client("dynamodb")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(uploadId=event["uploadId"], documentId=event["document"]["documentId"])
    upload = {k: event.get(k) for k in ("uploadId", "bucket", "key", "versionId")}
    result = register(ddb, config.documents_table(), upload=upload, document=event["document"],
                      execution_name=event["executionName"], retention_days=config.retention_days())
    logger.info("Document registered", extra=result)
    metrics.add_metric(name="DocumentsDuplicate" if result["duplicate"] else "DocumentsRegistered",
                       unit=MetricUnit.Count, value=1)
    return result
