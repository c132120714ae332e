"""The bad-input corpus through whole executions: each upload ends REJECTED with its code and a message."""

from __future__ import annotations

import io
from itertools import groupby
from pathlib import Path

from docpipe_local.twin.twin import LocalTwin
from tests.conftest import ROOT
from tests.twin.conftest import process, states_entered
from tests.unit import badinputs


def _limits(case: badinputs.BadInput) -> tuple[int, int]:
    return (case.max_bytes or 0, case.max_pages or 0)


def test_every_bad_input_ends_rejected_with_its_code_and_never_reaches_textract(tmp_path: Path) -> None:
    cases = sorted(badinputs.bad_inputs(), key=_limits)
    for (max_bytes, max_pages), group in groupby(cases, key=_limits):
        # GIVEN a deployment with the limits the cases were written for
        parameters = {"MaxDocumentBytes": str(max_bytes)} if max_bytes else {}
        parameters.update({"MaxPages": str(max_pages)} if max_pages else {})
        with LocalTwin(ROOT, log_stream=io.StringIO(), parameters=parameters) as twin:
            _check_group(twin, list(group), tmp_path / f"{max_bytes}-{max_pages}")


def _check_group(twin: LocalTwin, group: list[badinputs.BadInput], scratch: Path) -> None:
    # WHEN every case is uploaded at once, each under its own folder with its own file name
    scratch.mkdir()
    uploads = []
    for index, case in enumerate(group):
        body = scratch / str(index)
        body.write_bytes(case.body)
        uploads.append(twin.upload(body, key=f"incoming/corpus-{index:02d}/{case.key.rsplit('/', 1)[-1]}",
                                   content_type=case.content_type))
    ended = process(twin, *uploads)
    # THEN each execution failed on purpose at validation, its record says REJECTED with the
    # case's code and a message for a person, and Textract was never called
    for case, upload in zip(group, uploads):
        record = twin.upload_record(upload)
        assert record is not None, case.name
        assert (record["status"], record["error"]["code"]) == ("REJECTED", case.error.code), case.name
        assert len(record["error"]["message"]) > 10 and record["error"]["retryable"] is False, case.name
        assert "StartTextract" not in states_entered(twin, upload), case.name
        assert ended[upload.upload_id]["status"] == "SUCCEEDED", case.name  # REJECTED is a handled outcome
    assert twin.engine.calls == []
