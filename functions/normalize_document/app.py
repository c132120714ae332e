"""NormalizeDocument: raw Textract pages from S3 → schema-validated normalized JSON in S3 + summary."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe.results import normalize_document
from docpipe.textract import throttles

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")
textract = boto3.client("textract")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(uploadId=event["uploadId"], documentId=event["document"]["documentId"])
    with throttles.counted(metrics):
        summary = normalize_document(
            s3, textract, bucket=config.documents_bucket(), results_prefix=config.results_prefix(),
            document=event["document"], classification=event["classification"], textract_state=event["textract"],
            threshold=config.confidence_threshold(), locale=config.default_locale(),
        )
    logger.append_keys(docType=summary["docType"])
    if summary["replan"] is not None:
        logger.info("Document text asks for another Textract plan", extra={"api": summary["replan"]["plan"]["api"]})
        metrics.add_metric(name="DocumentsReplanned", unit=MetricUnit.Count, value=1)
        return dict(summary)
    logger.info("Document normalized", extra={"status": summary["status"], "pages": summary["pages"],
                                              "fieldCount": len(summary["fields"])})
    metrics.add_metric(name="PagesNormalized", unit=MetricUnit.Count, value=summary["pages"])
    return dict(summary)
