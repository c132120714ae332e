"""PollTextract: one status-only check of an async Textract job; raises TextractJobInProgress while it runs."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import admission, config
from docpipe.errors import TextractJobFailed, TextractJobInProgress, TextractTimedOut
from docpipe.textract import throttles
from docpipe.textract.jobs import poll

logger = Logger()
tracer = Tracer()
metrics = Metrics()
textract = boto3.client("textract")
ddb = boto3.client("dynamodb")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    attempt = int(event.get("attempt", 0))
    metrics.add_metric(name="PollCount", unit=MetricUnit.Count, value=1)
    try:
        with throttles.counted(metrics):
            result = poll(textract, event["textract"], attempt=attempt)
    except TextractJobInProgress:
        logger.info("Textract job still running", extra={"jobId": event["textract"]["jobId"], "poll": attempt + 1})
        raise
    except (TextractJobFailed, TextractTimedOut):
        admission.release(ddb, config.documents_table(), event["executionName"])
        raise
    # The job is over: its Textract slot goes to the next document while this one is normalized.
    admission.release(ddb, config.documents_table(), event["executionName"])
    logger.info("Textract job finished", extra={"jobId": result["jobId"], "status": result["status"],
                                                "pollCount": result["pollCount"],
                                                "elapsedSeconds": result["elapsedSeconds"]})
    return dict(result)
