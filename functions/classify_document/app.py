"""ClassifyDocument: docType (key, metadata/tags, text layer) and the Textract plan."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import config
from docpipe.classify import classify

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


@logger.inject_lambda_context(correlation_id_path="executionName", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(uploadId=event["uploadId"], documentId=event["document"]["documentId"])
    result = classify(s3, bucket=event["bucket"], key=event["key"], version_id=event.get("versionId"),
                      document=event["document"], incoming_prefix=config.incoming_prefix())
    logger.append_keys(docType=result["docType"])
    logger.info("Document classified", extra={"source": result["source"], "api": result["plan"]["api"],
                                              "mode": result["plan"]["mode"]})
    metrics.add_dimension(name="docType", value=result["docType"])
    metrics.add_metric(name="DocumentsClassified", unit=MetricUnit.Count, value=1)
    return dict(result)
