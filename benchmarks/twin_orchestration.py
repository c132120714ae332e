"""How long the local twin's orchestration takes per document, with OCR taken out of the picture.

Runs the sample receipt (answered from AWS's recorded AnalyzeExpense response, so no OCR) and the
2-page invoice PDF (text layer, async path with polls) through the real state machine, and prints
execution wall time, Textract engine time and the rest, per document and in total.

    .venv/bin/python benchmarks/twin_orchestration.py [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import tempfile
import time
from pathlib import Path

from docpipe_local.twin.twin import LocalTwin

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "fixtures" / "textract" / "analyze_expense_receipt_mega_market.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="documents of each kind (distinct bytes)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docpipe-bench-"))
    replay = work / "replay"
    replay.mkdir()
    files = []
    for n in range(args.rounds):
        # A trailing comment byte makes each copy a distinct document (no DUPLICATE short-cut).
        receipt = work / f"receipt-{n}.jpg"
        receipt.write_bytes((ROOT / "samples" / "receipt.jpg").read_bytes() + bytes([n]))
        shutil.copy(RECORDED, replay / f"{hashlib.sha256(receipt.read_bytes()).hexdigest()}.json")
        invoice = work / f"invoice-{n}.pdf"
        invoice.write_bytes((ROOT / "samples" / "invoice-2-pages.pdf").read_bytes() + b"%" + str(n).encode() + b"\n")
        files += [receipt, invoice]
    began = time.perf_counter()
    with LocalTwin(ROOT, log_stream=io.StringIO(), replay_dir=replay) as twin:
        start_s = time.perf_counter() - began
        rows = []
        for path in files:  # one at a time: each figure is one document's own run
            engine_before = twin.engine_seconds
            upload = twin.upload(path)
            t0 = time.perf_counter()
            twin.pump_intake()
            described = twin.wait([upload])[upload.upload_id]
            wall = time.perf_counter() - t0
            engine = twin.engine_seconds - engine_before
            polls = sum(1 for e in twin.history(upload) if e.get("stateEnteredEventDetails", {}).get("name") == "PollTextract")
            rows.append((path.name, described["status"], wall, engine, polls))
    shutil.rmtree(work)
    print(f"twin start: {start_s:.2f} s")
    print(f"{'document':<16} {'execution':<10} {'wall s':>7} {'engine s':>9} {'orchestration s':>16} {'polls':>6}")
    for name, status, wall, engine, polls in rows:
        print(f"{name:<16} {status:<10} {wall:>7.3f} {engine:>9.3f} {wall - engine:>16.3f} {polls:>6}")
    for kind in ("receipt", "invoice"):
        picked = [r for r in rows if r[0].startswith(kind)][1:]  # the first run pays the handlers' imports
        if picked:
            mean = sum(r[2] - r[3] for r in picked) / len(picked)
            print(f"{kind}: mean orchestration {mean:.3f} s per document (after the first)")


if __name__ == "__main__":
    main()
