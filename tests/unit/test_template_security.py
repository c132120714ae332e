"""template.yaml's security and observability: encryption, least privilege, retention, alarms, dashboard.

These read the template (no AWS); cfn-lint checks its syntax and checkov its settings in `make test`.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from typing import Any, Iterator

import pytest

from docpipe import breaker, records
from docpipe_local.twin.template import load_template
from docpipe_local.twin.twin import SKIPPED_TYPES
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE = GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"]

KEY_ARN = {"Fn::GetAtt": ["DocumentsKey", "Arn"]}
KEY_ALIAS = RESOURCES["DocumentsKeyAlias"]["Properties"]["AliasName"]
PRINCIPALS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
STATE_MACHINE = "DocumentPipelineStateMachine"
# The service that assumes each kind of principal's role.
SERVICES = {"AWS::Serverless::Function": "lambda.amazonaws.com", "AWS::Serverless::StateMachine": "states.amazonaws.com"}
# The only actions allowed on Resource "*", each because IAM cannot scope it to a resource:
# - Textract's (any textract: action): they take no resource ARN;
# - X-Ray's segment and telemetry writes: no resource-level permissions (every traced function and the state machine);
XRAY_WRITE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# - X-Ray's sampling reads, no resource-level permissions either: Step Functions applies the sampling rules itself
#   (in a function the Lambda service samples, so the functions do not need them);
XRAY_SAMPLING_ACTIONS = {"xray:GetSamplingRules", "xray:GetSamplingTargets"}
# - the CloudWatch Logs vended-delivery calls Step Functions logging makes (state machine only).
LOG_DELIVERY_ACTIONS = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}
# What an SQS event source mapping calls with the function's role (AWSLambdaSQSQueueExecutionRole, on one queue).
SQS_POLL_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
WRITE_ACTIONS = {"s3:PutObject", "dynamodb:PutItem", "dynamodb:UpdateItem", "sqs:SendMessage"}
CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                             2922, 3288, 3653}
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def of_type(*kinds: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] in kinds}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def references(value: Any) -> set[str]:
    """Logical ids (and parameters) a value refers to through Ref, GetAtt and Sub."""
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, arg in value.items():
        if key == "Ref":
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
        elif key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            found |= {t.split(".")[0] for t in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(variables)
            found |= references(variables)
        else:
            found |= references(arg)
    return found


def contains_key(value: Any, wanted: str) -> bool:
    if isinstance(value, dict):
        return wanted in value or any(contains_key(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, wanted) for v in value)
    return False


def role_of(principal: str) -> str:
    """The logical id of the AWS::IAM::Role a function or the state machine runs as (`Role: !GetAtt <Role>.Arn`)."""
    role = RESOURCES[principal]["Properties"].get("Role")
    assert isinstance(role, dict) and list(role) == ["Fn::GetAtt"] and role["Fn::GetAtt"][1] == "Arn", principal
    return role["Fn::GetAtt"][0]


def inline_statements(role: str) -> list[dict[str, Any]]:
    """The statements of a role's own inline Policies."""
    return [s for p in RESOURCES[role]["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def attached_statements(role: str) -> list[dict[str, Any]]:
    """The statements of the AWS::IAM::Policy resources attached to a role."""
    return [s for p in of_type("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def own_statements(principal: str) -> list[dict[str, Any]]:
    """Everything a function or the state machine may do: its role's inline and attached statements."""
    role = role_of(principal)
    return inline_statements(role) + attached_statements(role)


def role_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement granted to a role: the roles' inline Policies and the AWS::IAM::Policy resources."""
    for name in of_type("AWS::IAM::Role"):
        for statement in inline_statements(name):
            yield name, statement
    for name, policy in of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield name, statement


def actions_on(statements: list[dict[str, Any]], resource: Any) -> set[str]:
    """The actions Allowed on `resource` by statements that name it."""
    return {a for s in statements if s["Effect"] == "Allow" and resource in as_list(s["Resource"])
            for a in as_list(s["Action"])}


def key_grants() -> dict[str, set[str]]:
    """KMS actions each function / the state machine gets, through the AWS::IAM::Policy resources."""
    principals = {role_of(name): name for name in of_type(*PRINCIPALS)}
    grants: dict[str, set[str]] = {}
    for policy in of_type("AWS::IAM::Policy").values():
        actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])
                   if a.startswith("kms:")}
        for role in policy["Properties"]["Roles"] if actions else []:
            grants.setdefault(principals[role["Ref"]], set()).update(actions)
    return grants


def encrypted_data_use(logical_id: str) -> tuple[bool, bool]:
    """(reads, writes) data encrypted with DocumentsKey: the bucket, the table, the queues."""
    encrypted = {"DocumentsBucket", "DocumentsTable", *of_type("AWS::SQS::Queue")}
    props = RESOURCES[logical_id]["Properties"]
    reads = writes = False
    for statement in own_statements(logical_id):
        if references(statement["Resource"]) & encrypted:
            reads = True
            writes = writes or bool(set(as_list(statement["Action"])) & WRITE_ACTIONS)
    events = (props.get("Events") or {}).values()
    reads = reads or any(e["Type"] == "SQS" for e in events)
    if "DeadLetterQueue" in props:
        reads = writes = True
    return reads, writes


def alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of an alarm, for a plain metric or each metric of its math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        found = [(props["Namespace"], props["MetricName"], props.get("Dimensions", []))]
    else:
        found = [(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
                  m["MetricStat"]["Metric"].get("Dimensions", [])) for m in props["Metrics"] if "MetricStat" in m]
    return [(ns, name, {d["Name"]: d["Value"] for d in dims}) for ns, name, dims in found]


def alarms_on(namespace: str, metric: str, dimensions: dict[str, Any]) -> list[str]:
    return [name for name, alarm in of_type("AWS::CloudWatch::Alarm").items()
            if (namespace, metric, dimensions) in alarm_metrics(alarm)]


def emitted_metric_names() -> set[str]:
    """Metric names the handlers and the shared package emit (the name= of add_metric / single_metric)."""
    sources = [*ROOT.glob("functions/*/app.py"), *(ROOT / "layers" / "shared" / "docpipe").rglob("*.py")]
    names: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"(?:add_metric|single_metric)\(\s*name=(.*?),\s*unit=", text, re.S):
            argument = call.group(1)
            names |= set(re.findall(r'"([A-Z][a-z]\w*)"', argument))  # CamelCase names, not compared values
            for table in re.findall(r"\b([A-Z_]+)\[", argument):  # a lookup in a module-level dict of names
                literal = re.search(rf"^{table} = (\{{.*?\}})$", text, re.S | re.M)
                assert literal, f"{path}: {table}"
                names |= set(ast.literal_eval(literal.group(1)).values())
    return names


# --- encryption -------------------------------------------------------------------------------------------


def test_one_rotating_customer_managed_key_encrypts_the_bucket_table_queues_and_topics() -> None:
    # GIVEN the documents key, its alias and every data store
    key = RESOURCES["DocumentsKey"]["Properties"]
    accepted = [{"Ref": "DocumentsKey"}, KEY_ARN, KEY_ALIAS]
    assert RESOURCES["DocumentsKeyAlias"]["Properties"]["TargetKeyId"] == {"Ref": "DocumentsKey"}
    bucket = RESOURCES["DocumentsBucket"]
    default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    table = RESOURCES["DocumentsTable"]
    queues = of_type("AWS::SQS::Queue")
    topics = of_type("AWS::SNS::Topic")
    # WHEN their encryption settings are read
    uses = {"DocumentsBucket": default["ServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
            "DocumentsTable": table["Properties"]["SSESpecification"].get("KMSMasterKeyId"),
            **{n: q["Properties"].get("KmsMasterKeyId") for n, q in queues.items()},
            **{n: t["Properties"].get("KmsMasterKeyId") for n, t in topics.items()}}
    # THEN the key rotates, and every store uses it (by alias only once the alias exists)
    assert key.get("EnableKeyRotation") is True
    assert default["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert default["BucketKeyEnabled"] is True
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                                       "KMSMasterKeyId": uses["DocumentsTable"]}
    assert len(queues) >= 4
    for name, used in uses.items():
        assert used in accepted, name
        if used == KEY_ALIAS:
            assert "DocumentsKeyAlias" in as_list(RESOURCES[name].get("DependsOn", [])), name
    assert not any("SqsManagedSseEnabled" in q["Properties"] for q in queues.values())


def test_the_key_policy_lets_the_account_administer_it_and_eventbridge_deliver_to_the_queues() -> None:
    # GIVEN the key policy
    statements = {s["Sid"]: s for s in RESOURCES["DocumentsKey"]["Properties"]["KeyPolicy"]["Statement"]}
    # WHEN its principals are read
    root = statements["AccountAdministersTheKey"]
    events = statements["EventBridgeDeliversToEncryptedQueues"]
    # THEN the account root administers it (so IAM policies can grant its use), EventBridge may use it
    # only for messages of this account's queues, and no statement names any principal "*"
    assert root["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(events["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert events["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:sqs:arn": {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"}}}
    assert all(s["Principal"] != "*" for s in statements.values())


def test_every_role_that_touches_encrypted_data_may_use_the_key_and_only_that_key() -> None:
    # GIVEN what each function and the state machine reads and writes, and the KMS grants
    grants = key_grants()
    # WHEN the grants are compared with the data each role handles
    for name in of_type(*PRINCIPALS):
        reads, writes = encrypted_data_use(name)
        expected = ({"kms:Decrypt"} if reads else set()) | ({"kms:GenerateDataKey"} if writes else set())
        # THEN each role gets Decrypt to read and GenerateDataKey to write, nothing more
        assert grants.get(name, set()) == expected, name
    # AND every KMS statement is on DocumentsKey alone
    for name, statement in role_statements():
        if any(a.startswith("kms:") for a in as_list(statement["Action"])):
            assert statement["Resource"] == KEY_ARN, name


# --- the bucket -------------------------------------------------------------------------------------------


def test_the_bucket_blocks_public_access_keeps_versions_and_owns_its_objects() -> None:
    # GIVEN the documents bucket
    props = RESOURCES["DocumentsBucket"]["Properties"]
    # THEN every Block Public Access setting is on, versioning is on, ACLs are disabled
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_the_bucket_policy_denies_plain_http_and_wrong_encryption_but_not_default_encryption() -> None:
    # GIVEN the bucket policy's statements
    policy = of_type("AWS::S3::BucketPolicy")["DocumentsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "DocumentsBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    # WHEN the TLS statement and the encryption statements are picked out
    tls = [s for s in statements if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    sse = [s for s in statements if "StringNotEquals" in s.get("Condition", {})]
    # THEN any request over plain HTTP is denied, on the bucket and on its objects
    assert len(tls) == 1 and tls[0]["Effect"] == "Deny" and tls[0]["Principal"] == "*"
    assert tls[0]["Action"] == "s3:*"
    assert tls[0]["Resource"] == [{"Fn::GetAtt": ["DocumentsBucket", "Arn"]}, {"Fn::Sub": "${DocumentsBucket.Arn}/*"}]
    # AND a put naming another algorithm or another key is denied, but a put without encryption
    # headers is not (the Null condition): S3 then applies the default encryption, DocumentsKey
    denied = {k: v for s in sse for k, v in s["Condition"]["StringNotEquals"].items()}
    assert denied == {"s3:x-amz-server-side-encryption": "aws:kms",
                      "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}
    for statement in sse:
        assert statement["Effect"] == "Deny" and statement["Action"] == "s3:PutObject"
        assert statement["Condition"].get("Null") == {k: "false" for k in statement["Condition"]["StringNotEquals"]}


# --- least privilege --------------------------------------------------------------------------------------


def test_every_function_and_the_state_machine_run_as_a_role_of_their_own() -> None:
    # GIVEN every function and the state machine
    principals = of_type(*PRINCIPALS)
    # WHEN the role each runs as is looked up
    roles = {name: role_of(name) for name in principals}
    # THEN it is an AWS::IAM::Role of the template named after it, used by nothing else, and the principal
    # has no SAM Policies (with Policies SAM would generate a role of its own, with AWS managed policies)
    for name, role in roles.items():
        assert role == f"{name}Role", name
        assert RESOURCES[role]["Type"] == "AWS::IAM::Role", name
        assert "Policies" not in principals[name]["Properties"], name
    assert len(set(roles.values())) == len(roles)
    # AND every role in the template is one of theirs (no role that nothing runs as)
    assert set(of_type("AWS::IAM::Role")) == set(roles.values())


def test_no_role_has_an_aws_managed_policy() -> None:
    # GIVEN every role and every policy resource
    roles = of_type("AWS::IAM::Role")
    assert roles
    # THEN no role attaches a managed policy (the AWS managed ones SAM used are on Resource "*"), and
    # the template defines no managed policy of its own: every grant is a statement this file checks
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"], name
        assert "PermissionsBoundary" not in role["Properties"], name
    assert not of_type("AWS::IAM::ManagedPolicy")


def test_each_role_may_be_assumed_only_by_its_service() -> None:
    # GIVEN the service each role's principal runs in
    for name, principal in of_type(*PRINCIPALS).items():
        service = SERVICES[principal["Type"]]
        # WHEN its role's trust policy is read
        trust = RESOURCES[role_of(name)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        # THEN one statement lets that service, and only it, assume the role
        assert len(trust) == 1, name
        statement = trust[0]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole", name
        assert statement["Principal"] == {"Service": service}, name
    # AND Step Functions may assume it only for this account's state machines (confused-deputy guard)
    trust = RESOURCES[role_of(STATE_MACHINE)]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_no_statement_grants_a_wildcard_action() -> None:
    # GIVEN every statement granted to a role
    for name, statement in role_statements():
        # THEN it allows, and names each action in full (no s3:*, dynamodb:*, *, no NotAction/NotResource)
        assert statement["Effect"] == "Allow", name
        assert not {"NotAction", "NotResource"} & set(statement), name
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{name}: {action}"
    # AND the key policy's only wildcard is the account's own administration of the key
    key_statements = RESOURCES["DocumentsKey"]["Properties"]["KeyPolicy"]["Statement"]
    wildcards = [s["Sid"] for s in key_statements if any("*" in a for a in as_list(s["Action"]))]
    assert wildcards == ["AccountAdministersTheKey"]


def test_only_actions_without_resource_level_permissions_get_a_star_resource() -> None:
    # GIVEN every statement on Resource "*"
    state_machine_role = role_of(STATE_MACHINE)
    for name, statement in role_statements():
        resources = as_list(statement["Resource"])
        if "*" not in resources:
            continue
        actions = set(as_list(statement["Action"]))
        # THEN "*" is its only resource, and its actions are all on the allow-list: Textract's, X-Ray's
        # writes, and, for the state machine alone, X-Ray's sampling reads and the log-delivery calls
        assert resources == ["*"], name
        if all(a.startswith("textract:") for a in actions) or actions <= XRAY_WRITE_ACTIONS:
            continue
        allowed = XRAY_WRITE_ACTIONS | XRAY_SAMPLING_ACTIONS | LOG_DELIVERY_ACTIONS
        assert name == state_machine_role and actions <= allowed, f"{name}: {actions}"


def test_each_function_writes_its_own_log_group_and_no_other() -> None:
    # GIVEN each function's log group, by the name Lambda writes to
    groups = {json.dumps(g["Properties"]["LogGroupName"]): name for name, g in of_type("AWS::Logs::LogGroup").items()}
    for name in of_type("AWS::Serverless::Function"):
        group = groups[json.dumps({"Fn::Sub": f"/aws/lambda/${{{name}}}"})]
        # WHEN the logs: statements its role gets are picked out
        logs = [s for s in own_statements(name) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        # THEN it may create streams and put events in that group only (the stack creates the group:
        # no logs:CreateLogGroup, which would let Lambda recreate it without retention)
        assert len(logs) == 1, name
        assert set(as_list(logs[0]["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}, name
        assert logs[0]["Resource"] == {"Fn::GetAtt": [group, "Arn"]}, name


def test_every_traced_role_may_write_to_x_ray() -> None:
    # GIVEN that the functions (Globals) and the state machine trace actively
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    assert RESOURCES[STATE_MACHINE]["Properties"]["Tracing"] == {"Enabled": True}
    # WHEN each role's X-Ray actions are gathered
    for name in of_type(*PRINCIPALS):
        xray = {a for s in own_statements(name) for a in as_list(s["Action"]) if a.startswith("xray:")}
        # THEN every one may send segments and telemetry; the state machine also reads sampling rules
        expected = XRAY_WRITE_ACTIONS | (XRAY_SAMPLING_ACTIONS if name == STATE_MACHINE else set())
        assert xray == expected, name


def test_what_a_service_checks_at_creation_is_in_the_role_itself() -> None:
    # GIVEN the grants Lambda and Step Functions check when CloudFormation creates a resource (they cannot
    # come from a separate AWS::IAM::Policy, which CloudFormation may attach only afterwards)
    for name, function in of_type("AWS::Serverless::Function").items():
        props = function["Properties"]
        inline = inline_statements(role_of(name))
        queues = [e["Properties"]["Queue"] for e in (props.get("Events") or {}).values() if e["Type"] == "SQS"]
        # THEN an SQS event source's mapping may poll its queue, and only that queue
        for queue in queues:
            assert actions_on(inline, queue) >= SQS_POLL_ACTIONS, name
        for statement in own_statements(name):
            if set(as_list(statement["Action"])) & SQS_POLL_ACTIONS:
                assert all(r in queues for r in as_list(statement["Resource"])), name
        # AND a DeadLetterQueue can be sent to
        if "DeadLetterQueue" in props:
            assert "sqs:SendMessage" in actions_on(inline, props["DeadLetterQueue"]["TargetArn"]), name
    # AND the state machine's logging may set up its log delivery
    assert RESOURCES[STATE_MACHINE]["Properties"]["Logging"]["Level"] != "OFF"
    assert actions_on(inline_statements(role_of(STATE_MACHINE)), "*") >= LOG_DELIVERY_ACTIONS


def test_the_state_machine_may_invoke_exactly_the_functions_its_definition_names() -> None:
    # GIVEN the functions the definition's substitutions name
    substitutions = RESOURCES[STATE_MACHINE]["Properties"]["DefinitionSubstitutions"]
    named = [v for v in substitutions.values()
             if isinstance(v, dict) and "Fn::GetAtt" in v and RESOURCES[v["Fn::GetAtt"][0]]["Type"] in PRINCIPALS]
    # WHEN the functions its role may invoke are gathered
    invoke = [s for s in own_statements(STATE_MACHINE) if "lambda:InvokeFunction" in as_list(s["Action"])]
    invocable = [r for s in invoke for r in as_list(s["Resource"])]
    # THEN they are the same functions, by ARN (no other function, no name pattern)
    assert named and sorted(map(json.dumps, invocable)) == sorted(map(json.dumps, named))
    assert all(v["Fn::GetAtt"][1] == "Arn" for v in named)


# --- retention --------------------------------------------------------------------------------------------


def test_retention_days_drives_the_s3_lifecycle() -> None:
    # GIVEN the bucket's lifecycle rules and the prefixes the functions use
    rules = {r["Id"]: r for r in RESOURCES["DocumentsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    retention = {"Ref": "RetentionDays"}
    # WHEN the expiring rules are read
    incoming, results = rules["ExpireIncoming"], rules["ExpireResults"]
    # THEN uploads and results expire after RetentionDays, noncurrent versions and unfinished uploads go too
    assert (incoming["Prefix"], results["Prefix"]) == (GLOBAL_ENV["INCOMING_PREFIX"], GLOBAL_ENV["RESULTS_PREFIX"])
    for rule in (incoming, results):
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == retention
        assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
        assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    # AND results move to STANDARD_IA after the 30 days S3 requires, in a rule without an expiry, so no
    # RetentionDays can make a rule's expiry come before its transition (S3 would refuse the template)
    transition = rules["ResultsToInfrequentAccess"]
    assert transition["Prefix"] == GLOBAL_ENV["RESULTS_PREFIX"]
    assert [t["StorageClass"] for t in transition["Transitions"]] == ["STANDARD_IA"]
    assert transition["Transitions"][0]["TransitionInDays"] >= 30
    assert not {"ExpirationInDays", "ExpirationDate"} & set(transition)
    assert TEMPLATE["Parameters"]["RetentionDays"]["MinValue"] >= 1


def test_retention_days_drives_the_records_ttl() -> None:
    # GIVEN the table's TTL and the functions that write records
    ttl = RESOURCES["DocumentsTable"]["Properties"]["TimeToLiveSpecification"]
    writers = {n for n, f in of_type("AWS::Serverless::Function").items()
               if "RETENTION_DAYS" in ((f["Properties"].get("Environment") or {}).get("Variables") or {})}
    # THEN TTL is on the attribute the records code writes, and every writer gets RetentionDays
    assert ttl == {"AttributeName": "expiresAt", "Enabled": True}
    assert f'"{ttl["AttributeName"]}": ' in inspect.getsource(records)
    assert {"RegisterDocumentFunction", "PersistResultFunction", "RecordFailureFunction"} <= writers
    for name in writers:
        variables = RESOURCES[name]["Properties"]["Environment"]["Variables"]
        assert variables["RETENTION_DAYS"] == {"Ref": "RetentionDays"}, name


def test_every_function_and_the_state_machine_log_to_a_group_with_retention() -> None:
    # GIVEN the log groups by name
    groups = {json.dumps(g["Properties"]["LogGroupName"]): g["Properties"]
              for g in of_type("AWS::Logs::LogGroup").values()}
    retention = {"Ref": "LogRetentionDays"}
    # WHEN each function's /aws/lambda/<function> group is looked up
    for name in of_type("AWS::Serverless::Function"):
        group = groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{name}}}"}))
        # THEN it exists, with the retention parameter
        assert group is not None, name
        assert group["RetentionInDays"] == retention, name
    # AND the state machine's log destination has it too
    logging = RESOURCES["DocumentPipelineStateMachine"]["Properties"]["Logging"]
    for destination in logging["Destinations"]:
        logical_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert RESOURCES[logical_id]["Properties"].get("RetentionInDays") == retention
    assert set(TEMPLATE["Parameters"]["LogRetentionDays"]["AllowedValues"]) <= CLOUDWATCH_RETENTION_DAYS


# --- alarms and dashboard ---------------------------------------------------------------------------------


def test_alarms_notify_the_topic_only_when_one_is_given() -> None:
    # GIVEN the optional topic parameter and its condition
    assert TEMPLATE["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert TEMPLATE["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    alarms = of_type("AWS::CloudWatch::Alarm")
    assert alarms
    # THEN every alarm exists either way, and acts on the topic only when it is set
    for name, alarm in alarms.items():
        assert "Condition" not in alarm, name
        assert alarm["Properties"]["AlarmActions"] == ALARM_ACTIONS, name
        assert alarm["Properties"]["OKActions"] == ALARM_ACTIONS, name


@pytest.mark.parametrize(("namespace", "metric", "dimensions"), [
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
     {"QueueName": {"Fn::GetAtt": ["IntakeDeadLetterQueue", "QueueName"]}}),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": {"Fn::GetAtt": ["FailureQueue", "QueueName"]}}),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
     {"QueueName": {"Fn::GetAtt": ["ExecutionEndedDeadLetterQueue", "QueueName"]}}),
    (NAMESPACE, "BreakerTransitions", {"State": breaker.OPEN, "service": SERVICE}),
    ("AWS/States", "ExecutionsFailed", {"StateMachineArn": {"Ref": "DocumentPipelineStateMachine"}}),
    ("AWS/States", "ExecutionsTimedOut", {"StateMachineArn": {"Ref": "DocumentPipelineStateMachine"}}),
    ("AWS/States", "ExecutionsAborted", {"StateMachineArn": {"Ref": "DocumentPipelineStateMachine"}}),
])
def test_an_alarm_fires_on_the_first_occurrence(namespace: str, metric: str, dimensions: dict[str, Any]) -> None:
    # GIVEN a condition that should never happen unnoticed
    # WHEN the alarms on its metric are looked up
    found = alarms_on(namespace, metric, dimensions)
    # THEN exactly one fires as soon as the metric is above zero, and stays quiet without data
    assert len(found) == 1, (metric, dimensions)
    props = RESOURCES[found[0]]["Properties"]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["EvaluationPeriods"] == 1 and props["TreatMissingData"] == "notBreaching"


def test_the_failure_rate_alarm_divides_failed_by_received_documents() -> None:
    # GIVEN the alarm whose metric math reads DocumentsFailed and DocumentsReceived
    found = alarms_on(NAMESPACE, "DocumentsFailed", {"service": SERVICE})
    assert found == alarms_on(NAMESPACE, "DocumentsReceived", {"service": SERVICE}) and len(found) == 1
    props = RESOURCES[found[0]]["Properties"]
    ids = {m["MetricStat"]["Metric"]["MetricName"]: m["Id"] for m in props["Metrics"] if "MetricStat" in m}
    # WHEN the expression it alarms on is read
    returned = [m for m in props["Metrics"] if m.get("ReturnData", True)]
    # THEN it is a percentage of failed over received, compared with the threshold parameter
    assert len(returned) == 1
    expression = returned[0]["Expression"]
    assert re.search(rf"100 \* FILL\({ids['DocumentsFailed']}, 0\) / FILL\({ids['DocumentsReceived']}, 0\)", expression)
    assert props["Threshold"] == {"Ref": "FailureRateAlarmPercent"}
    assert props["ComparisonOperator"] == "GreaterThanThreshold"


def test_textract_throttling_alarms_only_when_sustained() -> None:
    # GIVEN the alarm on TextractThrottles
    found = alarms_on(NAMESPACE, "TextractThrottles", {"service": SERVICE})
    assert len(found) == 1
    props = RESOURCES[found[0]]["Properties"]
    # THEN it needs several consecutive breaching periods (Retry absorbs a short burst)
    assert props["EvaluationPeriods"] >= 3
    assert props["DatapointsToAlarm"] == props["EvaluationPeriods"]


def test_the_breaker_alarm_has_the_dimensions_announce_emits(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a breaker transition to OPEN, with metrics on (Powertools adds the service dimension)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    class Events:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
            return {"FailedEntryCount": 0, "Entries": [{}]}

    # WHEN it is announced
    breaker.announce(Events(), "bus", "textract", breaker.OPEN, "test")
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    dimensions = {name: emf[name] for name in directive["Dimensions"][0]}
    # THEN the BreakerOpen alarm watches exactly that namespace, metric and dimension set
    assert directive["Namespace"] == NAMESPACE and directive["Metrics"][0]["Name"] == "BreakerTransitions"
    assert dimensions == {"State": "OPEN", "service": SERVICE}
    assert len(alarms_on(NAMESPACE, "BreakerTransitions", dimensions)) == 1


def test_every_docpipe_metric_the_alarms_and_dashboard_read_is_emitted() -> None:
    # GIVEN the Docpipe metrics named by alarms and by the dashboard
    alarmed = {m for a in of_type("AWS::CloudWatch::Alarm").values()
               for ns, m, _ in alarm_metrics(a) if ns == NAMESPACE}
    body = dashboard_body()
    shown = {e[1] for w in body["widgets"] for e in w["properties"].get("metrics", [])
             if isinstance(e[0], str) and e[0] == NAMESPACE}
    shown |= set(re.findall(r'Namespace="Docpipe" MetricName="(\w+)"', json.dumps(body).replace('\\"', '"')))
    # THEN a handler or the shared package emits each of them (an alarm on a silent metric never fires)
    assert alarmed and shown
    assert alarmed | shown <= emitted_metric_names(), (alarmed | shown) - emitted_metric_names()


def dashboard_body() -> dict[str, Any]:
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", text))


def test_the_dashboard_shows_throughput_outcomes_latency_breaker_and_queue_depth() -> None:
    # GIVEN the dashboard body, its ${...} substitutions and its widgets
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    titles = {w["properties"]["title"]: json.dumps(w["properties"]) for w in dashboard_body()["widgets"]}
    # WHEN the widgets are read by what they plot
    plotted = {title: body.replace('\\"', '"') for title, body in titles.items()}
    # THEN every substitution names a resource or pseudo parameter
    for token in re.findall(r"\$\{([^}]+)\}", text):
        assert token.startswith("AWS::") or token.split(".")[0] in RESOURCES, token
    # AND there are widgets for throughput, outcomes, p50/p95 latency, breaker transitions and DLQ depth
    assert "DocumentsReceived" in plotted["Throughput"]
    for outcome in ("DocumentsSucceeded", "DocumentsNeedsReview", "DocumentsRejected", "DocumentsFailed"):
        assert outcome in plotted["Outcomes"]
    latency = next(body for title, body in plotted.items() if title.startswith("Latency"))
    for shown in ("TextractLatency", '"stat": "p50"', '"stat": "p95"', "EndToEndLatency", "'p50'", "'p95'"):
        assert shown in latency, shown
    breaker_widget = next(body for title, body in plotted.items() if "breaker" in title)
    assert all(f'"{state}"' in breaker_widget for state in (breaker.OPEN, breaker.HALF_OPEN, breaker.CLOSED))
    depth = next(body for title, body in plotted.items() if "queue depth" in title)
    assert "ApproximateNumberOfMessagesVisible" in depth
    assert "${IntakeDeadLetterQueue.QueueName}" in text and "${FailureQueue.QueueName}" in text


# --- checkov suppressions and the local twin --------------------------------------------------------------


def test_every_checkov_suppression_gives_its_reason() -> None:
    # GIVEN every checkov skip in the resources' Metadata
    skips = [(name, skip) for name, r in RESOURCES.items()
             for skip in ((r.get("Metadata") or {}).get("checkov") or {}).get("skip", [])]
    assert skips
    # THEN each names a check and says why it does not apply
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) >= 40, f"{name}: {skip['id']}"


def test_the_twin_builds_every_resource_it_does_not_skip_without_conditions_or_skipped_references() -> None:
    # GIVEN the resources the local twin builds (all but SKIPPED_TYPES; it evaluates no conditions)
    built = {n: r for n, r in RESOURCES.items() if r["Type"] not in SKIPPED_TYPES}
    # (a layer and a role are the exceptions: the twin registers their ARNs without building them)
    skipped = {n for n, r in RESOURCES.items()
               if r["Type"] in SKIPPED_TYPES and r["Type"] not in ("AWS::Serverless::LayerVersion", "AWS::IAM::Role")}
    # THEN none is conditional or uses Fn::If, and none refers to a resource the twin skips (the reason
    # the bucket, table and queues name the key by alias)
    for name, resource in built.items():
        assert "Condition" not in resource, name
        assert not contains_key(resource.get("Properties"), "Fn::If"), name
        assert not references(resource.get("Properties")) & skipped, name
