"""PersistResult: the terminal record of the document and its upload."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import clock, config
from docpipe.results import persist_result

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ddb = boto3.client("dynamodb")

_METRIC = {"SUCCEEDED": "DocumentsSucceeded", "NEEDS_REVIEW": "DocumentsNeedsReview", "DUPLICATE": "DocumentsDuplicate"}


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(uploadId=event["uploadId"], documentId=event["document"]["documentId"],
                       docType=event["normalized"]["docType"])
    upload = {k: event.get(k) for k in ("uploadId", "bucket", "key", "versionId")}
    outcome = persist_result(ddb, config.documents_table(), upload=upload, document=event["document"],
                             normalized=event["normalized"], execution_name=event["executionName"],
                             retention_days=config.retention_days())
    logger.info("Result persisted", extra={"status": outcome["status"]})
    metrics.add_dimension(name="docType", value=outcome["docType"])
    metrics.add_metric(name=_METRIC[outcome["status"]], unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="EndToEndLatency", unit=MetricUnit.Milliseconds,
                       value=clock.milliseconds_since(event["executionStartTime"]))
    return dict(outcome)
