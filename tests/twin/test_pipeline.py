"""Whole executions on the local twin: record, S3 artifacts and execution history."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from docpipe_local.engine import FaultPlan
from tests.conftest import FIXTURES
from tests.twin.conftest import SAMPLES, process, states_entered


def test_receipt_image_takes_the_sync_path_and_succeeds(make_twin, receipt_replay: Path) -> None:
    # GIVEN the twin answering Textract with AWS's recorded AnalyzeExpense of the sample receipt
    twin = make_twin(replay_dir=receipt_replay)
    # WHEN the receipt is uploaded under incoming/
    upload = twin.upload(SAMPLES / "receipt.jpg")
    ended = process(twin, upload)
    # THEN the execution succeeded through the sync path: no Wait/Poll loop
    assert ended[upload.upload_id]["status"] == "SUCCEEDED"
    visited = states_entered(twin, upload)
    assert visited[:4] == ["ValidateDocument", "RegisterDocument", "IsDuplicate", "ClassifyDocument"]
    assert "StartTextract" in visited and "PollTextract" not in visited and "WaitForTextract" not in visited
    assert visited[-2:] == ["PublishOutcome", "Done"]
    # AND the record holds the values a person reads on the receipt
    record = twin.upload_record(upload)
    document = twin.document_record(record["documentId"])
    assert record["status"] == document["status"] == "SUCCEEDED"
    assert document["docType"] == "receipt"
    assert document["fields"]["total"]["value"] == "1810.46"
    assert document["fields"]["receipt_date"]["value"] == "2019-12-07"
    # AND the raw and normalized JSON are in S3 under results/<documentId>/
    assert twin.list_keys(f"results/{record['documentId']}/textract/sync/") == [
        f"results/{record['documentId']}/textract/sync/1"]
    normalized = twin.read_json(document["normalizedKey"])
    assert normalized["docType"] == "receipt" and len(normalized["line_items"]) == 4
    # AND exactly one Textract call was made, the sync AnalyzeExpense
    assert [c.operation for c in twin.engine.calls] == ["AnalyzeExpense"]


def test_multi_page_pdf_takes_the_async_path_with_polls_and_pagination(make_twin) -> None:
    # GIVEN a twin whose Textract writes at most 40 blocks per result object (forces pagination)
    twin = make_twin(results_per_object=40)
    # WHEN the 2-page invoice PDF is uploaded
    upload = twin.upload(SAMPLES / "invoice-2-pages.pdf")
    ended = process(twin, upload)
    # THEN the async path ran: StartTextractJob, one first wait, and PollTextract entered once, its Retry
    # polling again (status only) while the job ran
    assert ended[upload.upload_id]["status"] == "SUCCEEDED"
    visited = states_entered(twin, upload)
    assert visited.count("StartTextractJob") == visited.count("WaitForTextract") == visited.count("PollTextract") == 1
    operations = [c.operation for c in twin.engine.calls]
    assert operations[0] == "StartExpenseAnalysis"
    # AND each poll after the first followed a retry delay, doubling each time (virtual time)
    delays = twin.clock.retry_sleeps
    assert operations.count("GetExpenseAnalysis") == len(delays) + 1 >= 2
    assert all(b == 2 * a for a, b in zip(delays, delays[1:]))
    # AND the raw result spans several numbered objects, all read by the normalizer
    record = twin.upload_record(upload)
    document = twin.document_record(record["documentId"])
    raw = [k for k in twin.list_keys(document["rawPrefix"]) if k.rsplit("/", 1)[1].isdigit()]
    assert len(raw) >= 2
    normalized = twin.read_json(document["normalizedKey"])
    assert normalized["pages"] == 2
    assert document["docType"] == "invoice" and document["status"] in ("SUCCEEDED", "NEEDS_REVIEW")
    assert normalized["fields"]["invoice_number"]["value"]


def test_spoofed_file_is_rejected_without_calling_textract(make_twin) -> None:
    twin = make_twin()
    # GIVEN an HTML page named .pdf
    upload = twin.upload(SAMPLES / "not-really-a.pdf")
    # WHEN it runs
    ended = process(twin, upload)
    # THEN the execution handled it (succeeded) via the Catch on ValidateDocument
    assert ended[upload.upload_id]["status"] == "SUCCEEDED"
    assert states_entered(twin, upload) == ["ValidateDocument", "RecordFailure", "IsRejected", "PublishOutcome", "Done"]
    # AND the upload is recorded REJECTED with a clear code and message, and Textract was never called
    record = twin.upload_record(upload)
    assert record["status"] == "REJECTED"
    assert record["error"]["code"] == "SPOOFED_TYPE" and record["error"]["state"] == "ValidateDocument"
    assert "pdf" in record["error"]["message"].lower()
    assert twin.engine.calls == []


def test_duplicate_upload_is_recorded_duplicate_with_one_textract_call(make_twin, receipt_replay: Path, tmp_path) -> None:
    twin = make_twin(replay_dir=receipt_replay)
    # GIVEN the same receipt processed once
    first = twin.upload(SAMPLES / "receipt.jpg")
    process(twin, first)
    # WHEN the same bytes arrive again under another key, and the first S3 event is delivered again
    second = twin.upload(SAMPLES / "receipt.jpg", key="incoming/copy-of-receipt.jpg")
    process(twin, second)
    started_again = twin.pump_intake()
    # THEN the second upload is DUPLICATE of the first document, and only one Textract call was ever made
    first_record, second_record = twin.upload_record(first), twin.upload_record(second)
    assert first_record["status"] == "SUCCEEDED"
    assert second_record["status"] == "DUPLICATE"
    assert second_record["documentId"] == first_record["documentId"] == second_record["duplicateOf"]
    assert "ClassifyDocument" not in states_entered(twin, second)
    assert len(twin.engine.calls) == 1
    assert started_again == 0


def test_racing_uploads_of_the_same_file_make_one_textract_call_and_one_record(make_twin,
                                                                              receipt_replay: Path) -> None:
    twin = make_twin(replay_dir=receipt_replay)
    # GIVEN the same receipt uploaded under four keys at once (a client retrying, a shared drive syncing)
    uploads = [twin.upload(SAMPLES / "receipt.jpg", key=f"incoming/race-{n}.jpg") for n in range(4)]
    # WHEN all four executions run concurrently
    process(twin, *uploads)
    # THEN exactly one analysed the document, the others are DUPLICATE of it, and Textract saw one call
    records = [twin.upload_record(u) for u in uploads]
    assert sorted(r["status"] for r in records) == ["DUPLICATE", "DUPLICATE", "DUPLICATE", "SUCCEEDED"]
    winner = next(r for r in records if r["status"] == "SUCCEEDED")
    assert all(r["duplicateOf"] == winner["documentId"] for r in records if r["status"] == "DUPLICATE")
    assert len(twin.engine.calls) == 1
    assert twin.document_record(winner["documentId"])["status"] == "SUCCEEDED"


def test_redelivered_event_starts_no_second_execution(make_twin, receipt_replay: Path) -> None:
    twin = make_twin(replay_dir=receipt_replay)
    # GIVEN an upload whose S3 event is delivered twice (S3/EventBridge are at-least-once)
    upload = twin.upload(SAMPLES / "receipt.jpg")
    queue = twin.resources.ref("IntakeQueue")
    sqs = boto3.client("sqs")
    body = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)["Messages"][0]["Body"]
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    # WHEN both deliveries reach the Starter
    process(twin, upload)
    # THEN one execution exists, and Textract was called once
    sfn = boto3.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=twin.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert len(twin.engine.calls) == 1


def test_failed_textract_job_ends_failed_with_the_failure_path(make_twin) -> None:
    # GIVEN Textract will end the next async job FAILED
    faults = FaultPlan()
    faults.inject("job_failed")
    twin = make_twin(faults=faults)
    # WHEN the PDF is processed
    upload = twin.upload(SAMPLES / "invoice-2-pages.pdf")
    ended = process(twin, upload)
    # THEN the execution failed from PollTextract's Catch → RecordFailure → DLQ
    assert ended[upload.upload_id]["status"] == "FAILED"
    visited = states_entered(twin, upload)
    assert visited[-6:] == ["PollTextract", "RecordFailure", "IsRejected", "PublishFailure", "SendToFailureQueue",
                            "DocumentFailed"]
    # AND the document and upload are recorded FAILED with the Textract code
    record = twin.upload_record(upload)
    document = twin.document_record(record["documentId"])
    assert record["status"] == document["status"] == "FAILED"
    assert document["error"]["code"] == "TEXTRACT_JOB_FAILED" and document["error"]["state"] == "PollTextract"
    # AND the failure queue holds the execution's state for redrive
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=twin.resources.ref("FailureQueue"), MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["uploadId"] == upload.upload_id


def test_bundled_samples_end_as_documented_with_the_local_ocr_engine(make_twin) -> None:
    # GIVEN the twin with its real local engine (RapidOCR for the receipt photo, the PDF text layer)
    twin = make_twin()
    # WHEN every bundled sample is uploaded, as `make run` does
    uploads = {path.name: twin.upload(path) for path in sorted(SAMPLES.iterdir())}
    process(twin, *uploads.values(), timeout_s=300)
    records = {name: twin.upload_record(upload) for name, upload in uploads.items()}
    documents = {name: twin.document_record(r["documentId"]) for name, r in records.items() if r["documentId"]}
    # THEN each ends in the state docs/samples.md promises, with the values printed on it
    assert records["not-really-a.pdf"]["status"] == "REJECTED"
    assert records["not-really-a.pdf"]["error"]["code"] == "SPOOFED_TYPE"
    receipt, invoice = documents["receipt.jpg"], documents["invoice-2-pages.pdf"]
    assert receipt["status"] in ("SUCCEEDED", "NEEDS_REVIEW") and receipt["docType"] == "receipt"
    assert receipt["fields"]["total"]["value"] == "1810.46"
    assert invoice["status"] in ("SUCCEEDED", "NEEDS_REVIEW") and invoice["docType"] == "invoice"
    assert invoice["fields"]["total"]["value"] == "3878.77"
    assert invoice["fields"]["amount_due"]["value"] == "3378.77"
    assert invoice["pages"] == 2


def test_unhinted_id_card_image_is_analysed_again_with_analyze_id(make_twin) -> None:
    # GIVEN a driver licence image under a key that names no docType
    twin = make_twin()
    upload = twin.upload(FIXTURES / "driverlicense.png", key="incoming/scan-0001.png")
    # WHEN it is processed
    ended = process(twin, upload)
    # THEN the expense-first text showed an ID, so Textract ran once more with AnalyzeID
    assert [c.operation for c in twin.engine.calls] == ["AnalyzeExpense", "AnalyzeID"]
    visited = states_entered(twin, upload)
    assert visited.count("StartTextract") == 2 and visited.count("UseRefinedPlan") == 1
    assert visited.index("UseRefinedPlan") < visited.index("PersistResult")
    # AND the document ends as an identity document with the number printed on the licence
    assert ended[upload.upload_id]["status"] in ("SUCCEEDED", "NEEDS_REVIEW")
    document = twin.document_record(twin.upload_record(upload)["documentId"])
    assert document["docType"] == "identity"
    assert document["fields"]["document_number"]["value"] == "820BAC729CBAC"
