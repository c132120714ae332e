"""Starter: intake-queue consumer that starts one execution per uploaded object version."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from docpipe import config
from docpipe.intake import NotAnUploadEvent, start_execution, upload_from_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
sfn = boto3.client("stepfunctions")


def handle_record(record: SQSRecord) -> None:
    """Start the execution for one message; a failure leaves the message for retry and the DLQ."""
    try:
        upload = upload_from_event(record.body, config.incoming_prefix())
    except NotAnUploadEvent as reason:
        logger.warning("Dropping message", extra={"messageId": record.message_id, "reason": str(reason)})
        return
    started = start_execution(sfn, config.state_machine_arn(), upload)
    logger.info("Upload received", extra={"uploadId": upload["uploadId"], "started": started})
    metrics.add_metric(name="DocumentsReceived" if started else "DuplicateDeliveries", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
