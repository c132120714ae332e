"""The local twin: template.yaml, the ASL file and the handlers, run in one process on moto."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import boto3
from moto import mock_aws

from docpipe import clock as docpipe_clock
from docpipe.intake import execution_arn, upload_id
from docpipe_local.engine import FaultPlan, LocalTextract
from docpipe_local.twin import patches
from docpipe_local.twin.clock import VirtualClock
from docpipe_local.twin.runtime import FunctionRuntime, FunctionSpec
from docpipe_local.twin.template import Resolver, UnresolvableReference, load_template

ACCOUNT_ID = "123456789012"
LOG = logging.getLogger(__name__)
# Settings of the twin's own process, never of the template: fake credentials moto accepts, X-Ray
# off (there is no daemon here) and EMF metrics on (the runtime collects them from stdout).
TWIN_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",
}
SKIPPED_TYPES = {"AWS::Serverless::LayerVersion", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
                 "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::IAM::Role", "AWS::IAM::Policy",
                 "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"}


class TwinError(RuntimeError):
    """The twin could not build the template's resources or run an upload."""


@dataclass
class Upload:
    """One file put into incoming/, and the execution that processes it."""

    path: str
    bucket: str
    key: str
    version_id: str | None
    upload_id: str
    execution_arn: str
    started_at: float = field(default_factory=time.perf_counter)


@dataclass
class Resources:
    """Physical names of what the twin built, by logical id."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def ref(self, logical_id: str) -> str:
        return self.refs[logical_id]


class LocalTwin:
    """Builds the stack in moto and runs uploads through the real state machine.

    Use as a context manager. `parameters` override the template's parameter defaults, as
    `sam deploy --parameter-overrides` would.
    """

    def __init__(
        self,
        root: Path,
        *,
        parameters: dict[str, str] | None = None,
        region: str = "us-east-1",
        stack_name: str = "docpipe-twin",
        log_stream: TextIO | None = None,
        faults: FaultPlan | None = None,
        replay_dir: Path | None = None,
        results_per_object: int = 1000,
        job_seconds: Callable[[int], float] | None = None,
    ) -> None:
        self.root = root
        self.region = region
        self.stack_name = stack_name
        self.template = load_template(root / "template.yaml")
        self.parameter_values = self._parameters(parameters or {})
        self.clock = VirtualClock()
        self.resources = Resources()
        self.runtime = FunctionRuntime(log_stream)
        self.faults = faults or FaultPlan()
        self._replay_dir = replay_dir
        self._results_per_object = results_per_object
        self._job_seconds = job_seconds
        # EventBridge rules on execution status changes, with the function each one invokes.
        self._status_rules: list[tuple[dict[str, Any], str]] = []
        self._stack = ExitStack()
        self.engine: LocalTextract | None = None
        self.state_machine_arn = ""

    def _parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        values = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            if name in overrides:
                values[name] = str(overrides[name])
            elif "Default" in spec:
                values[name] = str(spec["Default"])
            else:
                raise TwinError(f"template parameter {name} has no default; pass it as an override")
        unknown = set(overrides) - set(values)
        if unknown:
            raise TwinError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        return values

    @property
    def engine_seconds(self) -> float:
        """Wall-clock seconds the local Textract engine spent answering (OCR included)."""
        return sum(call.seconds for call in self.engine.calls) if self.engine else 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> "LocalTwin":
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        saved = {k: os.environ.get(k) for k in (*TWIN_ENVIRONMENT, "AWS_DEFAULT_REGION", "AWS_REGION")}
        self._stack.callback(_restore_environment, saved)
        self._stack.callback(self.runtime.close)
        os.environ.update(TWIN_ENVIRONMENT)
        self._route_moto_logs()
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = self.region
        self._stack.enter_context(mock_aws(config=patches.MOTO_CONFIG))
        patches.apply(self._stack, dispatch=self.runtime.invoke, on_wait=self.clock.wait,
                      on_retry_sleep=self.clock.retry_sleep, clock=self.clock.now,
                      on_wait_until=self.clock.wait_until,
                      on_execution=(self.clock.execution_started, self._execution_ended))
        self._stack.callback(docpipe_clock.use, docpipe_clock.use(self.clock.now))
        boto3.setup_default_session(region_name=self.region)
        self._stack.callback(setattr, boto3, "DEFAULT_SESSION", None)
        _serialise_client_creation(boto3.DEFAULT_SESSION)
        self.engine = LocalTextract(
            s3_client_factory=lambda: boto3.client("s3", region_name=self.region), clock=self.clock.now,
            results_per_object=self._results_per_object, replay_dir=self._replay_dir, faults=self.faults,
            **({"job_seconds": self._job_seconds} if self._job_seconds else {}),
        )
        self.engine.install(boto3.DEFAULT_SESSION)
        self._stack.callback(self.engine.uninstall)
        self._build()

    def _route_moto_logs(self) -> None:
        """moto logs expected conditions (an IsPresent on a missing path) at ERROR: keep them off the terminal."""
        moto_logger = logging.getLogger("moto")
        handler: logging.Handler = (logging.StreamHandler(self.runtime.log_stream) if self.runtime.log_stream
                                    else logging.NullHandler())
        saved = moto_logger.propagate
        moto_logger.addHandler(handler)
        moto_logger.propagate = False
        self._stack.callback(setattr, moto_logger, "propagate", saved)
        self._stack.callback(moto_logger.removeHandler, handler)

    # -- building the stack ----------------------------------------------------------------------
    def _resolver(self) -> Resolver:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": self.stack_name,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}
        return Resolver(self.parameter_values, pseudo, self.resources.refs, self.resources.attributes)

    def _build(self) -> None:
        iam = boto3.client("iam")
        role = iam.create_role(RoleName=f"{self.stack_name}-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}))
        self._role_arn = role["Role"]["Arn"]
        pending = {k: v for k, v in self.template["Resources"].items() if v["Type"] not in SKIPPED_TYPES}
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == "AWS::Serverless::LayerVersion":
                # Layer code runs from the repository (it is on the twin's path); a function's
                # Layers list only needs the layer's ARN to resolve.
                self._set(logical_id, f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:layer:{logical_id}:1")
            elif resource["Type"] == "AWS::IAM::Role":
                # The twin enforces no IAM: a function's or the state machine's Role names the twin's one role.
                self._set(logical_id, self._role_arn.rsplit("/", 1)[-1], Arn=self._role_arn)
        while pending:
            progressed = False
            for logical_id in list(pending):
                try:
                    self._create(logical_id, pending[logical_id])
                except UnresolvableReference:
                    continue
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise TwinError(f"cannot resolve references of: {', '.join(sorted(pending))}")
        self.state_machine_arn = self.resources.ref("DocumentPipelineStateMachine")

    def _physical_name(self, logical_id: str, lower: bool = False) -> str:
        digest = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:8]
        name = f"{self.stack_name}-{logical_id}-{digest}"
        return name.lower() if lower else name

    def _create(self, logical_id: str, resource: dict[str, Any]) -> None:
        kind = resource["Type"]
        props = self._resolver().resolve(resource.get("Properties") or {})
        creator = {
            "AWS::S3::Bucket": self._bucket, "AWS::SQS::Queue": self._queue, "AWS::DynamoDB::Table": self._table,
            "AWS::Events::EventBus": self._event_bus, "AWS::Events::Rule": self._rule,
            "AWS::Serverless::Function": self._function, "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::Logs::LogGroup": self._log_group,
        }.get(kind)
        if creator is None:
            raise TwinError(f"{logical_id}: the twin does not know how to build {kind}")
        creator(logical_id, props, resource)

    def _set(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.resources.refs[logical_id] = ref
        for name, value in attributes.items():
            self.resources.attributes[(logical_id, name)] = value

    def _bucket(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        s3 = boto3.client("s3")
        name = props.get("BucketName") or self._physical_name(logical_id, lower=True)
        s3.create_bucket(Bucket=name)
        if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if ((props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
        self._set(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")

    def _queue(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        sqs = boto3.client("sqs")
        name = props.get("QueueName") or self._physical_name(logical_id)
        attributes = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                      if k in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _table(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        ddb = boto3.client("dynamodb")
        name = props.get("TableName") or self._physical_name(logical_id)
        args: dict[str, Any] = {"TableName": name, "AttributeDefinitions": props["AttributeDefinitions"],
                                "KeySchema": props["KeySchema"], "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST")}
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        description = ddb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        self._set(logical_id, name, Arn=description["TableArn"])

    def _event_bus(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        arn = boto3.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        self._set(logical_id, props["Name"], Arn=arn, Name=props["Name"])

    def _rule(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        events = boto3.client("events")
        name = props.get("Name") or self._physical_name(logical_id)
        bus = props.get("EventBusName", "default")
        arn = events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), EventBusName=bus,
                              State=props.get("State", "ENABLED"))["RuleArn"]
        targets = [{k: v for k, v in t.items() if k in ("Id", "Arn", "DeadLetterConfig", "RetryPolicy", "InputPath")}
                   for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self._set(logical_id, name, Arn=arn)

    def _log_group(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or self._physical_name(logical_id)
        self._set(logical_id, name, Arn=f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*")

    def _function_environment(self, props: dict[str, Any]) -> dict[str, str]:
        globals_env = ((self.template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
        variables = {**self._resolver().resolve(globals_env.get("Variables") or {}),
                     **((props.get("Environment") or {}).get("Variables") or {})}
        return {k: str(v) for k, v in variables.items()}

    def _function(self, logical_id: str, props: dict[str, Any], resource: dict[str, Any]) -> None:
        globals_fn = (self.template.get("Globals") or {}).get("Function") or {}
        name = props.get("FunctionName") or self._physical_name(logical_id)
        environment = self._function_environment(props)
        # A container image function's code is its Dockerfile's: the handler named by its Command,
        # in the folder of the Dockerfile (the rest of the image is the repository on the path).
        image = props.get("PackageType") == "Image"
        handler = props["ImageConfig"]["Command"][0] if image else props.get("Handler") or globals_fn["Handler"]
        code_dir = self.root / (Path(resource["Metadata"]["Dockerfile"]).parent if image else props["CodeUri"])
        boto3.client("lambda").create_function(
            FunctionName=name, Runtime=props.get("Runtime") or globals_fn.get("Runtime", "python3.12"),
            Role=self._role_arn, Handler=handler, Code={"ZipFile": _empty_zip()},
            Environment={"Variables": environment},
        )
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
        self.runtime.register(FunctionSpec(
            logical_id=logical_id, name=name, arn=arn, code_dir=code_dir, handler=handler,
            environment=environment, memory_mb=int(props.get("MemorySize") or globals_fn.get("MemorySize", 128)),
            timeout_s=int(props.get("Timeout") or globals_fn.get("Timeout", 3)),
        ))
        self._set(logical_id, name, Arn=arn)
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "EventBridgeRule":
                self._status_rules.append((event["Properties"]["Pattern"], name))

    def _execution_ended(self, execution_arn: str) -> None:
        """Step Functions' status-change event, which moto does not emit: delivered to the functions
        whose rule matches it before the execution counts as ended, so that once `wait` returns the
        ExecutionEnded function has run."""
        try:
            sfn = boto3.client("stepfunctions")
            described = sfn.describe_execution(executionArn=execution_arn)
            event = {"version": "0", "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                     "account": ACCOUNT_ID, "region": self.region, "resources": [execution_arn],
                     "detail": {"executionArn": execution_arn, "stateMachineArn": described["stateMachineArn"],
                                "name": described["name"], "status": described["status"]}}
            for pattern, function in self._status_rules:
                if _matches(pattern, event):
                    # Asynchronous on AWS: a failure goes to the function's DLQ, never to the execution.
                    response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
                    if response.get("FunctionError"):
                        LOG.warning("%s failed on a status-change event: %s", function, response["Payload"].read())
        finally:
            self.clock.execution_ended(execution_arn)

    def _state_machine(self, logical_id: str, props: dict[str, Any], _: dict[str, Any]) -> None:
        definition = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("Name") or self._physical_name(logical_id)
        arn = boto3.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=self._role_arn, type=props.get("Type", "STANDARD"),
        )["stateMachineArn"]
        self._set(logical_id, arn, Name=name, Arn=arn)

    # -- running uploads -------------------------------------------------------------------------
    def upload(self, path: Path, *, key: str | None = None, doc_type: str | None = None,
               content_type: str | None = None) -> Upload:
        """Put a file under incoming/ (S3 then tells EventBridge, which feeds the intake queue)."""
        bucket = self.resources.ref("DocumentsBucket")
        prefix = self.parameter_env("INCOMING_PREFIX")
        object_key = key or f"{prefix}{path.name}"
        extra: dict[str, Any] = {"Metadata": {"doc-type": doc_type}} if doc_type else {}
        if content_type:
            extra["ContentType"] = content_type
        with path.open("rb") as body:
            response = boto3.client("s3").put_object(Bucket=bucket, Key=object_key, Body=body, **extra)
        version_id = response.get("VersionId")
        uid = upload_id(bucket, object_key, version_id)
        return Upload(str(path), bucket, object_key, version_id, uid, self.execution_arn(uid))

    def parameter_env(self, name: str) -> str:
        """A variable of the functions' Globals environment, as resolved for the twin."""
        return self._function_environment({})[name]

    def execution_arn(self, uid: str) -> str:
        return execution_arn(self.state_machine_arn, uid)

    def pump_intake(self) -> int:
        """Deliver the intake queue to the Starter function as the SQS event source mapping would.

        Returns how many messages were delivered; messages the Starter reports as failed stay in
        the queue (and reach the DLQ after maxReceiveCount), as on AWS.
        """
        sqs, lam = boto3.client("sqs"), boto3.client("lambda")
        queue_url = self.resources.ref("IntakeQueue")
        queue_arn = self.resources.attributes[("IntakeQueue", "Arn")]
        delivered = 0
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                           MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                return delivered
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": m.get("Attributes", {}), "md5OfBody": m["MD5OfBody"],
                        "messageAttributes": {name: {"stringValue": a.get("StringValue"), "dataType": a["DataType"],
                                                     "stringListValues": [], "binaryListValues": []}
                                              for name, a in m.get("MessageAttributes", {}).items()},
                        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": self.region}
                       for m in messages]
            response = lam.invoke(FunctionName=self.resources.ref("StarterFunction"),
                                  Payload=json.dumps({"Records": records}).encode())
            result = json.loads(response["Payload"].read() or b"{}")
            if response.get("FunctionError"):
                raise TwinError(f"Starter failed: {result.get('errorType')}: {result.get('errorMessage')}")
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages) if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
            delivered += len(messages)

    def wait(
        self,
        uploads: Iterable[Upload],
        *,
        timeout_s: float = 600.0,
        poll_s: float = 0.02,
        on_done: Callable[[int, int], None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Poll until every upload's execution has ended (deadline: timeout_s).

        Returns describe_execution by uploadId; `on_done(ended, total)` is called as executions end.
        """
        sfn = boto3.client("stepfunctions")
        remaining = {u.upload_id: u for u in uploads}
        total = len(remaining)
        ended: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        next_pump = 0.0
        while remaining:
            # The clock knows which executions run (it is told when each starts and ends): only the
            # others are described. With hundreds in flight, asking moto about every execution each
            # round would take the interpreter's time from the executions themselves.
            running = self.clock.running()
            unstarted = False
            for uid, upload in list(remaining.items()):
                if upload.execution_arn in running:
                    continue
                try:
                    described = sfn.describe_execution(executionArn=upload.execution_arn)
                except sfn.exceptions.ExecutionDoesNotExist:
                    unstarted = True
                    continue
                if described["status"] != "RUNNING":
                    ended[uid] = described
                    del remaining[uid]
                    if on_done:
                        on_done(len(ended), total)
            if unstarted and time.monotonic() >= next_pump:
                # Uploads waiting in the intake queue for a Textract slot come back there: deliver them.
                self.pump_intake()
                next_pump = time.monotonic() + 0.5
            if remaining and time.monotonic() > deadline:
                raise TwinError(f"{len(remaining)} execution(s) still running after {timeout_s:.0f} s")
            if remaining:
                # A round costs more the more executions run; it waits longer in proportion, so the
                # polling never takes more than a small share of the interpreter from them.
                time.sleep(poll_s * max(1.0, len(remaining) / 10))
        return ended

    def history(self, upload: Upload) -> list[dict[str, Any]]:
        """The execution history events of an upload's execution, oldest first."""
        sfn = boto3.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"executionArn": upload.execution_arn, "maxResults": 1000}
            if token:
                args["nextToken"] = token
            page = sfn.get_execution_history(**args)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def upload_record(self, upload: Upload) -> dict[str, Any] | None:
        from docpipe.records import get_upload

        return get_upload(boto3.client("dynamodb"), self.resources.ref("DocumentsTable"), upload.upload_id)

    def document_record(self, document_id: str) -> dict[str, Any] | None:
        from docpipe.records import get_document

        return get_document(boto3.client("dynamodb"), self.resources.ref("DocumentsTable"), document_id)

    def read_json(self, key: str) -> Any:
        body = boto3.client("s3").get_object(Bucket=self.resources.ref("DocumentsBucket"), Key=key)["Body"]
        return json.load(body)

    def list_keys(self, prefix: str) -> list[str]:
        s3 = boto3.client("s3")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.resources.ref("DocumentsBucket"),
                                                                  Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the patterns docpipe uses: nested objects and lists of exact values."""
    for key, expected in pattern.items():
        value = event.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not _matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True


def _serialise_client_creation(session: boto3.Session) -> None:
    """Creating clients from one session is not thread-safe in botocore, and the twin's executions
    (moto runs each in a thread, and its task integrations call boto3.client per call) share the
    default session: one lock around client creation. Clients are thread-safe once created, and
    creating one costs more than most calls made with it (a tenth of a chaos run), so a client
    asked for with the same arguments again is the one already made."""
    create = session.client
    lock = threading.Lock()
    made: dict[str, Any] = {}

    def client(*args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        # A Config compares by identity; what it was asked for is its identity here.
        options = getattr(config, "_user_provided_options", None) if config is not None else {}
        key = repr((args, sorted((k, v) for k, v in kwargs.items() if k != "config"), sorted((options or {}).items())))
        with lock:
            if options is None:
                return create(*args, **kwargs)
            if key not in made:
                made[key] = create(*args, **kwargs)
            return made[key]

    session.client = client  # type: ignore[method-assign]


def _restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _empty_zip() -> bytes:
    """A valid zip for moto's create_function; the code itself runs from the repository."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in-process from the repository")
    return buffer.getvalue()
