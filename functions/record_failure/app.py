"""RecordFailure: every Catch lands here; records REJECTED/FAILED and feeds the circuit breaker."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import breaker, clock, config
from docpipe.failures import record

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ddb = boto3.client("dynamodb")
events = boto3.client("events")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    state, table = event["state"], config.documents_table()
    logger.append_keys(uploadId=state["uploadId"], documentId=(state.get("document") or {}).get("documentId"))
    info, outcome = record(ddb, table, state=state, execution_name=event["executionName"],
                           retention_days=config.retention_days())
    logger.warning("Document did not succeed", extra={"status": outcome["status"], "code": info.code,
                                                      "failedState": info.state, "retryable": info.retryable})
    metrics.add_metric(name="DocumentsRejected" if outcome["status"] == "REJECTED" else "DocumentsFailed",
                       unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="EndToEndLatency", unit=MetricUnit.Milliseconds,
                       value=clock.milliseconds_since(event["executionStartTime"]))
    if info.counts_toward_breaker:
        if breaker.record_failure(ddb, table, "textract", event["executionName"], breaker.configured_settings()):
            breaker.announce(events, config.outcome_event_bus(), "textract", breaker.OPEN, info.code)
            logger.warning("Textract circuit breaker opened", extra={"code": info.code})
    return outcome
