"""StartTextract: the sync API for single-page images, or an async job with OutputConfig to S3.

The document must hold a Textract slot (admission control): the Starter took it, or it is taken
here (a redriven or replanned execution); a sync call gives it back as soon as it returns.
"""

import time

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import admission, breaker, config
from docpipe.errors import CircuitOpen, TextractCapacityFull
from docpipe.textract import throttles
from docpipe.textract.jobs import start

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")
ddb = boto3.client("dynamodb")
textract = boto3.client("textract")
events = boto3.client("events")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    document_id, plan = event["document"]["documentId"], event["plan"]
    logger.append_keys(uploadId=event["uploadId"], documentId=document_id)
    table, owner = config.documents_table(), event["executionName"]
    if admission.acquire(ddb, table, owner, config.admission_ceiling()) is admission.Outcome.FULL:
        metrics.add_metric(name="AdmissionRefused", unit=MetricUnit.Count, value=1)
        raise TextractCapacityFull()
    circuit = breaker.admit(ddb, table, "textract", owner, breaker.configured_settings())
    if circuit.claimed:
        breaker.announce(events, config.outcome_event_bus(), "textract", breaker.HALF_OPEN, "cool-down ended")
        logger.info("Textract circuit breaker half-open: this execution is the probe")
    if not circuit.admitted:
        raise CircuitOpen(f"Textract circuit breaker is {circuit.state}; this document waits for it to close.")
    began = time.perf_counter()
    with throttles.counted(metrics):
        result = start(textract, s3, plan=plan, bucket=event["bucket"], key=event["key"],
                       version_id=event.get("versionId"), document_id=document_id, execution_name=owner,
                       results_bucket=config.documents_bucket(), results_prefix=config.results_prefix(),
                       poll_initial_seconds=config.poll_initial_seconds(),
                       poll_deadline_seconds=config.poll_deadline_seconds(), kms_key_id=config.documents_key())
    if breaker.record_success(ddb, table, "textract", owner):
        breaker.announce(events, config.outcome_event_bus(), "textract", breaker.CLOSED, "probe succeeded")
        logger.info("Textract circuit breaker closed")
    metrics.add_metric(name="TextractLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - began) * 1000)
    if result["status"] != "IN_PROGRESS":
        admission.release(ddb, table, owner)
    logger.info("Textract started", extra={"api": plan["api"], "mode": plan["mode"], "jobId": result["jobId"]})
    return dict(result)
