"""Starter: intake-queue consumer that starts one execution per uploaded object version, once it
holds a Textract slot; while every slot is taken the upload goes back to the queue to wait."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from docpipe import config
from docpipe.intake import FIRST_DEFERRED_AT, STARTED, WAITING, NotAnUploadEvent, admit_and_start, defer, upload_from_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
sfn = boto3.client("stepfunctions")
ddb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def handle_record(record: SQSRecord) -> None:
    """Start the execution for one message; a failure leaves the message for retry and the DLQ."""
    try:
        upload = upload_from_event(record.body, config.incoming_prefix())
    except NotAnUploadEvent as reason:
        logger.warning("Dropping message", extra={"messageId": record.message_id, "reason": str(reason)})
        return
    outcome = admit_and_start(sfn, ddb, state_machine_arn=config.state_machine_arn(), table=config.documents_table(),
                              ceiling=config.admission_ceiling(), upload=upload)
    if outcome == WAITING:
        first = record.message_attributes[FIRST_DEFERRED_AT]
        delay = defer(sqs, config.intake_queue_url(), record.body, wait_seconds=config.admission_wait_seconds(),
                      first_deferred_at=float(first.string_value) if first and first.string_value else None)
        logger.info("Every Textract slot is taken: upload waits in the intake queue",
                    extra={"uploadId": upload["uploadId"], "delaySeconds": delay})
        metrics.add_metric(name="AdmissionDeferred", unit=MetricUnit.Count, value=1)
        return
    logger.info("Upload received", extra={"uploadId": upload["uploadId"], "started": outcome == STARTED})
    metrics.add_metric(name="DocumentsReceived" if outcome == STARTED else "DuplicateDeliveries",
                       unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
