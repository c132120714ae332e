"""`docpipe local run`: the command a newcomer runs, on the twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docpipe_local.cli import main
from tests.twin.conftest import SAMPLES


def test_json_output_has_one_object_per_document(receipt_replay: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    # GIVEN the receipt (answered from AWS's recorded response) and the spoofed PDF
    # WHEN they are run with --json
    code = main(["local", "run", str(SAMPLES / "receipt.jpg"), str(SAMPLES / "not-really-a.pdf"),
                 "--json", "--out", str(out), "--replay", str(receipt_replay)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN each document is one JSON object with the documented keys
    assert code == 0
    assert [Path(d["file"]).name for d in lines] == ["receipt.jpg", "not-really-a.pdf"]
    receipt, fake = lines
    assert set(receipt) >= {"documentId", "status", "docType", "fields", "error"}
    assert receipt["status"] == "SUCCEEDED" and receipt["docType"] == "receipt" and receipt["error"] is None
    assert receipt["fields"]["total"]["value"] == "1810.46" and 0 < receipt["fields"]["total"]["confidence"] <= 100
    assert fake["status"] == "REJECTED" and fake["error"]["code"] == "SPOOFED_TYPE" and fake["fields"] == {}
    # AND the raw and normalized JSON were written under --out
    assert json.loads((out / "receipt.jpg" / "normalized.json").read_text())["docType"] == "receipt"
    assert (out / "receipt.jpg" / "textract" / "1.json").is_file()
    assert not (out / "not-really-a.pdf" / "normalized.json").exists()


def test_table_output_shows_status_and_key_fields(receipt_replay: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the receipt, WHEN run without --json (not a TTY: plain table)
    code = main(["local", "run", str(SAMPLES / "receipt.jpg"), "--out", str(tmp_path / "out"),
                 "--replay", str(receipt_replay)])
    output = capsys.readouterr().out
    # THEN a header row and a row with the status and the total
    assert code == 0
    header, row = output.splitlines()[:2]
    assert header.split()[:4] == ["file", "documentId", "docType", "status"]
    assert "receipt.jpg" in row and "SUCCEEDED" in row and "total=1810.46" in row


def test_unknown_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["local", "run", str(tmp_path / "missing.jpg")])
    assert "no such file" in str(caught.value)
