"""The `docpipe` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docpipe.contracts import DOC_TYPES


def _project_root() -> Path:
    """The checkout holding template.yaml (the twin runs the real template, ASL and handlers)."""
    for candidate in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (candidate / "template.yaml").is_file() and (candidate / "statemachine").is_dir():
            return candidate
    raise SystemExit("docpipe: cannot find template.yaml; run from inside a docpipe checkout")


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
        import boto3

        from docpipe_local.ops import breaker_command, stack_resource

        session = boto3.session.Session(region_name=args.region)
        table = args.table or stack_resource(session.client("cloudformation"), args.stack, "DocumentsTable")
        breaker_command(session.client("dynamodb"), table, args.action, seconds=args.seconds, stream=sys.stdout)
        return 0
    if args.command == "redrive":
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
