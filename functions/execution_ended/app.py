"""ExecutionEnded: every ending execution gives back its Textract slot (if it still holds one), and one
that failed, timed out or was aborted before RecordFailure ran leaves its upload FAILED, not PROCESSING."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import admission, config
from docpipe.intake import upload_id_of
from docpipe.records import abandon

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ddb = boto3.client("dynamodb")


@logger.inject_lambda_context(correlation_id_path="detail.name", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    detail = event["detail"]
    name, status = detail["name"], detail["status"]
    upload_id = upload_id_of(name)
    if upload_id is None:
        logger.info("Not a document execution", extra={"status": status})
        return {"recorded": False}
    logger.append_keys(uploadId=upload_id)
    # The backstop of admission control: whatever path the execution took, its slot is free now.
    if admission.release(ddb, config.documents_table(), name):
        metrics.add_metric(name="AdmissionReleasedAtEnd", unit=MetricUnit.Count, value=1)
    if status == "SUCCEEDED":
        return {"recorded": False}
    recorded = abandon(ddb, config.documents_table(), upload_id=upload_id, execution_name=name,
                       execution_status=status)
    if recorded:
        metrics.add_metric(name="ExecutionsAbandoned", unit=MetricUnit.Count, value=1)
        logger.warning("Execution ended without an outcome; upload recorded FAILED", extra={"status": status})
    return {"recorded": recorded}
