"""The `docpipe` command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from docpipe.contracts import DOC_TYPES
from docpipe_local.ops import DOCUMENT_STATUSES, OpsError


def _project_root() -> Path:
    """The checkout holding template.yaml (the twin runs the real template, ASL and handlers)."""
    for candidate in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (candidate / "template.yaml").is_file() and (candidate / "statemachine").is_dir():
            return candidate
    raise SystemExit("docpipe: cannot find template.yaml; run from inside a docpipe checkout")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _add_document_commands(commands: Any) -> None:
    """status, list, show, reprocess, delete, upload: against a deployed stack (docpipe_local.ops_documents)."""
    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("--stack", default=os.environ.get("AWS_SAM_STACK_NAME"),
                       help="a deployed docpipe stack (default: $AWS_SAM_STACK_NAME)")
    stack.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    status = commands.add_parser(
        "status", parents=[stack], help="a document's record, uploads, execution and artifacts",
        description="Show a document's status, error, pages, processor version, its uploads, the execution "
                    "that processed it (with its Step Functions console link) and its artifacts in S3. "
                    "DOCUMENT_ID|S3_KEY is a document id (64 hex), an upload id (40 hex), or an S3 key "
                    "(incoming/..., or s3://bucket/key).")
    status.add_argument("reference", metavar="DOCUMENT_ID|S3_KEY")
    status.add_argument("--all-uploads", action="store_true",
                        help="also find every other upload of the same content (scans the whole table)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    listing = commands.add_parser(
        "list", parents=[stack], help="documents, most recently updated first, one line each",
        description="List documents, most recently updated first: updated, status, docType, documentId, pages, "
                    "key. Reads the table's StatusIndex (one query per status, merged); no table scan.")
    listing.add_argument("--status", choices=DOCUMENT_STATUSES)
    listing.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="updated on or after this day (UTC)")
    listing.add_argument("--doc-type", choices=DOC_TYPES)
    listing.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N documents (default 50)")
    show = commands.add_parser(
        "show", parents=[stack], help="a document's normalized fields (value, confidence, page)",
        description="Print the fields of a document's normalized JSON (read from S3) as a table, or the JSON.")
    show.add_argument("document_id", metavar="DOCUMENT_ID")
    show.add_argument("--json", action="store_true", help="print the normalized JSON itself")
    reprocess = commands.add_parser(
        "reprocess", parents=[stack], help="normalize documents again from their stored Textract output",
        description="Normalize SUCCEEDED and NEEDS_REVIEW documents again with this checkout's processor version, "
                    "from the "
                    "raw Textract output stored under results/<documentId>/ (no Textract call is made), "
                    "using the stack's ConfidenceThreshold and DefaultLocale. The new normalized JSON replaces "
                    "the old and the record is updated, conditionally: a document being processed is skipped.")
    reprocess.add_argument("--document", metavar="ID", help="only this document")
    reprocess.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="documents updated on or after this day")
    reprocess.add_argument("--doc-type", choices=DOC_TYPES)
    delete = commands.add_parser(
        "delete", parents=[stack], help="erase a document on request: uploads, artifacts, records",
        description="Erase a document: every version of its uploaded objects, every version under "
                    "results/<documentId>/, and its document and upload records. Finding its uploads scans "
                    "the table. Asks for confirmation unless --yes. Not erased here: Step Functions' "
                    "execution history (it names the key; it expires with the service's retention).")
    delete.add_argument("document_id", metavar="DOCUMENT_ID")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    upload = commands.add_parser(
        "upload", parents=[stack], help="put a file under incoming/ for the pipeline",
        description="Upload a file to incoming/<doc-type folder or 'documents'>/<file name>, with doc-type "
                    "metadata when --doc-type is given; prints the key, version id and upload id.")
    upload.add_argument("file", type=Path, metavar="FILE")
    upload.add_argument("--doc-type", choices=DOC_TYPES, help="skip classification (default: the pipeline classifies)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docpipe", description="docpipe: documents in, structured data out.")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the pipeline on the local twin (offline)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    run = local_commands.add_parser("run", help="process files end to end through the real state machine")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files (or directories) to process")
    run.add_argument("--doc-type", choices=DOC_TYPES, help="docType for every file (default: classify)")
    run.add_argument("--out", type=Path, default=Path("out"), help="where raw and normalized JSON go (default ./out)")
    run.add_argument("--json", action="store_true", help="print one JSON object per document instead of a table")
    run.add_argument("--replay", type=Path, help="answer Textract from recorded responses keyed by SHA-256")
    run.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                     help="override a template parameter, as sam deploy --parameter-overrides")
    chaos = local_commands.add_parser("chaos", help="run generated documents through the twin under Textract faults")
    chaos.add_argument("--documents", type=int, default=200, metavar="N", help="how many documents (default 200)")
    chaos.add_argument("--faults", default="throttle=0.3,server=0.1,job_failed=0.05", metavar="SPEC",
                       help="KIND=RATE items (throttle, throughput, server, limit, job_failed, never_finish, slow) "
                            "and outage=S (every call fails for the first S seconds of virtual time)")
    chaos.add_argument("--seed", type=int, default=1, help="makes the faults and the documents reproducible")
    chaos.add_argument("--waves", type=int, default=4, help="documents arrive in this many bursts (default 4)")
    chaos.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                       help="override a template parameter, as sam deploy --parameter-overrides")
    breaker_cmd = commands.add_parser("breaker", help="show, open or close the Textract circuit breaker")
    breaker_cmd.add_argument("action", choices=("status", "open", "close"))
    where = breaker_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed docpipe stack (its DocumentsTable is used)")
    where.add_argument("--table", help="the documents table, named directly")
    breaker_cmd.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    breaker_cmd.add_argument("--seconds", type=float, default=900.0,
                             help="with open: how long before a document may probe Textract again (default 900)")
    redrive_cmd = commands.add_parser("redrive", help="restart FAILED documents and requeue intake dead letters")
    redrive_cmd.add_argument("--stack", required=True, help="a deployed docpipe stack")
    redrive_cmd.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    redrive_cmd.add_argument("--include-permanent", action="store_true",
                             help="also restart failures that were not transient (they will likely fail again)")
    _add_document_commands(commands)
    evaluate = commands.add_parser("eval", help="score extraction against <name>.truth.json files")
    evaluate.add_argument("directory", type=Path, metavar="DIR")
    evaluate.add_argument("--replay", type=Path, help="answer Textract from recorded responses keyed by SHA-256")
    normalize = commands.add_parser("normalize", help="print the normalized JSON of recorded Textract responses")
    normalize.add_argument("--doc-type", required=True, choices=DOC_TYPES)
    normalize.add_argument("--textract", required=True, nargs="+", type=Path, metavar="FILE.json",
                           help="a Textract response; several files are the pages of one async result, in order")
    normalize.add_argument("--locale", default="en_US", help="for ambiguous dates and currency (default en_US)")
    normalize.add_argument("--threshold", type=float, default=80.0,
                           help="confidence below which a required field sends the document to review (default 80)")
    return parser


def normalize_files(doc_type: str, files: list[Path], *, locale: str, threshold: float) -> dict:
    """Normalize recorded responses exactly as NormalizeDocument does, schema validation included."""
    import hashlib
    import json

    from docpipe.normalize import normalize, validate_output

    for path in files:
        if not path.is_file():
            raise SystemExit(f"docpipe: no such file: {path}")

    def pages():
        for path in files:
            with path.open(encoding="utf-8") as handle:
                yield json.load(handle)

    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    doc = normalize(doc_type, pages(), threshold=threshold, locale=locale, document_id=digest)
    validate_output(doc)
    return doc


def _overrides(items: list[str]) -> dict[str, str]:
    """--parameter NAME=VALUE items as a dict."""
    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"docpipe: --parameter expects NAME=VALUE, got {item!r}")
        overrides[name] = value
    return overrides


DOCUMENT_COMMANDS = ("status", "list", "show", "reprocess", "delete", "upload")


def _confirm(stdin: TextIO, stdout: TextIO) -> Any:
    """Ask on the terminal before deleting; anything but y/yes (or no answer) keeps everything."""
    def ask(plan: Any) -> bool:
        stdout.write(f"Permanently delete {plan.describe()}? [y/N] ")
        stdout.flush()
        answer = stdin.readline()
        return answer.strip().lower() in ("y", "yes")
    return ask


def run_document_command(args: argparse.Namespace, session: Any, stdout: TextIO | None = None,
                         stdin: TextIO | None = None) -> int:
    """One of DOCUMENT_COMMANDS against the stack `args.stack`, with clients from `session`."""
    import json

    from docpipe_local import ops, ops_documents as docs

    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin

    if not args.stack:
        raise OpsError("name the stack: --stack NAME (or set AWS_SAM_STACK_NAME)")
    stack = ops.resolve_stack(session.client("cloudformation"), args.stack)
    ddb, s3 = session.client("dynamodb"), session.client("s3")
    if args.command == "status":
        status = docs.document_status(ddb, s3, stack, args.reference, all_uploads=args.all_uploads)
        stdout.write((json.dumps(status, indent=2) if args.json else docs.format_status(status)) + "\n")
        return 0
    if args.command == "list":
        found = docs.list_documents(ddb, stack, status=args.status, since=args.since, doc_type=args.doc_type,
                                    limit=args.limit)
        stdout.writelines(docs.format_document_line(d) + "\n" for d in found)
        if not found:
            sys.stderr.write("docpipe: no documents match\n")
        return 0
    if args.command == "show":
        doc = docs.read_normalized(ddb, s3, stack, args.document_id)
        text = json.dumps(doc, indent=2, ensure_ascii=False) if args.json else docs.format_normalized(doc)
        stdout.write(text + "\n")
        return 0
    if args.command == "reprocess":
        if args.document and (args.since or args.doc_type):
            raise OpsError("--document names one document: it does not combine with --since or --doc-type")
        docs.reprocess(ddb, s3, stack, document_id=args.document, since=args.since, doc_type=args.doc_type,
                       stream=stdout)
        return 0
    if args.command == "delete":
        confirm = (lambda plan: True) if args.yes else _confirm(stdin, stdout)
        done = docs.delete_document(ddb, s3, stack, args.document_id, confirm=confirm, stream=stdout)
        return 0 if done else 1
    if args.command == "upload":
        docs.upload_file(s3, stack, args.file, doc_type=args.doc_type, stream=stdout)
        return 0
    raise OpsError(f"unknown command {args.command}")


def _aws_errors(run: Any) -> int:
    """Run an operator command; whatever AWS or the environment refuses becomes one line (exit 2)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        return run()
    except NoCredentialsError:
        raise OpsError("no AWS credentials found (configure a profile, or set AWS_PROFILE)") from None
    except NoRegionError:
        raise OpsError("no AWS region configured: pass --region") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise OpsError(f"{error.operation_name} failed: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise OpsError(str(error)) from None


def _breaker(args: argparse.Namespace) -> int:
    import boto3

    from docpipe_local.ops import breaker_command, stack_resource

    session = boto3.session.Session(region_name=args.region)
    table = args.table or stack_resource(session.client("cloudformation"), args.stack, "DocumentsTable")
    breaker_command(session.client("dynamodb"), table, args.action, seconds=args.seconds, stream=sys.stdout)
    return 0


def _redrive(args: argparse.Namespace) -> int:
    import boto3

    from docpipe_local.ops import redrive, stack_resource

    session = boto3.session.Session(region_name=args.region)
    cloudformation = session.client("cloudformation")
    resources = {name: stack_resource(cloudformation, args.stack, name) for name in (
        "DocumentsTable", "DocumentPipelineStateMachine", "IntakeQueue", "IntakeDeadLetterQueue")}
    redrive(session.client("dynamodb"), session.client("stepfunctions"), session.client("sqs"),
            table=resources["DocumentsTable"], state_machine_arn=resources["DocumentPipelineStateMachine"],
            intake_queue_url=resources["IntakeQueue"], intake_dlq_url=resources["IntakeDeadLetterQueue"],
            include_permanent=args.include_permanent, stream=sys.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except OpsError as error:
        # Exit status 2 and one line on stderr, no traceback.
        sys.stderr.write(f"{error}\n")
        raise


def _run(args: argparse.Namespace) -> int:
    if args.command in DOCUMENT_COMMANDS:
        import boto3

        return _aws_errors(lambda: run_document_command(args, boto3.session.Session(region_name=args.region)))
    if args.command == "local" and args.local_command == "chaos":
        from docpipe_local.chaos import run_chaos

        if args.documents < 1:
            raise SystemExit("docpipe: --documents must be at least 1")
        result = run_chaos(_project_root(), documents=args.documents, faults=args.faults, seed=args.seed,
                           waves=args.waves, parameters=_overrides(args.parameter))
        return 0 if result.lost == 0 and result.duplicated == 0 else 1
    if args.command == "local" and args.local_command == "run":
        from docpipe_local.run import run_documents

        overrides = _overrides(args.parameter)
        return run_documents(
            _project_root(), args.paths, doc_type=args.doc_type, out=args.out, as_json=args.json,
            replay_dir=args.replay, parameters=overrides,
        )
    if args.command == "breaker":
        return _aws_errors(lambda: _breaker(args))
    if args.command == "redrive":
        return _aws_errors(lambda: _redrive(args))
    if args.command == "eval":
        from docpipe_local.evaluate import evaluate

        evaluate(_project_root(), args.directory, replay_dir=args.replay)
        return 0
    if args.command == "normalize":
        import json

        doc = normalize_files(args.doc_type, args.textract, locale=args.locale, threshold=args.threshold)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 0
    raise SystemExit(2)


if __name__ == "__main__":
    sys.exit(main())
