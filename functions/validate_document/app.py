"""ValidateDocument: size, magic-byte media type, page count, encryption and SHA-256 of an upload."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe.validation import validate_upload

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(uploadId=event["uploadId"])
    document = validate_upload(
        s3, bucket=event["bucket"], key=event["key"], version_id=event.get("versionId"), upload_id=event["uploadId"],
        max_bytes=config.max_document_bytes(), max_pages=config.max_pages(), allowed_types=config.allowed_media_types(),
    )
    logger.append_keys(documentId=document["documentId"])
    logger.info("Document validated", extra={"mediaType": document["mediaType"], "pageCount": document["pageCount"]})
    metrics.add_metric(name="DocumentsValidated", unit=MetricUnit.Count, value=1)
    return dict(document)
