"""PollTextract: one status-only check of an async Textract job; next backoff and deadline."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe.textract import throttles
from docpipe.textract.jobs import poll

logger = Logger()
tracer = Tracer()
metrics = Metrics()
textract = boto3.client("textract")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    with throttles.counted(metrics):
        result = poll(textract, event["textract"], poll_max_seconds=config.poll_max_seconds())
    logger.info("Textract polled", extra={"jobId": result["jobId"], "status": result["status"],
                                          "pollCount": result["pollCount"]})
    metrics.add_metric(name="PollCount", unit=MetricUnit.Count, value=1)
    return dict(result)
