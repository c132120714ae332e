"""ReconcileAdmission (scheduled): give back the Textract slots of executions that are no longer
running, and set the admission counter to the slots actually held."""

from functools import partial

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from docpipe import admission, config
from docpipe.intake import execution_running

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ddb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    result = admission.reconcile(ddb, config.documents_table(),
                                 partial(execution_running, sfn, config.state_machine_arn()))
    drift = result.counter_before - result.leases
    metrics.add_metric(name="AdmissionInflight", unit=MetricUnit.Count, value=result.counter_after)
    metrics.add_metric(name="AdmissionLeasesReleased", unit=MetricUnit.Count, value=len(result.released))
    metrics.add_metric(name="AdmissionDrift", unit=MetricUnit.Count, value=abs(drift))
    log = logger.warning if result.released or drift else logger.info
    log("Admission reconciled", extra={"leases": result.leases, "released": len(result.released),
                                       "counterBefore": result.counter_before, "counterAfter": result.counter_after})
    return {"leases": result.leases, "released": result.released, "counterBefore": result.counter_before,
            "counterAfter": result.counter_after}
