"""Benchmarks of edi.x12: parse speed, render speed and memory on a 100 MB interchange.

    python benches/x12_bench.py            # full sizes (about a minute)
    python benches/x12_bench.py --quick    # small sizes, a smoke test of the script itself

Inputs are generated into a temporary directory from a fixed seed, so runs compare. The 5 MB
invoice (10,000 lines of about 500 bytes and ten segments each) is parsed into typed invoices
twice: `parse_file(check=False)` (envelopes checked, invoices built; the issue's 20 MB/s) and
`parse_file()` (the default, which also validates every segment; shown, not judged). Each is
the best of three, timed until the invoices are ready (freeing them is not timed). The 100 MB
file (interchanges of 100 ten-line invoices) is streamed and validated in a child process whose
own peak resident set (interpreter included) is the memory figure, so the number is what the
machine actually paid. Exit status 1 when a target is missed (not with --quick).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi.x12 import (  # noqa: E402 - the repo root goes on sys.path first
    Charge,
    ControlNumbers,
    EnvelopeSettings,
    Invoice810,
    InvoiceLine,
    ParseResult,
    Party,
    ProductId,
    Reference,
    Tax,
    Terms,
    parse_file,
    render_interchange,
)

WHEN = datetime(2024, 5, 6, 7, 8)
ENVELOPE = EnvelopeSettings(sender_id="MLCONNECTOR", receiver_id="PARTNER", newline=True, version="005010")
WORDS = ("CABLE", "POWER", "CORD", "STEEL", "BRACKET", "PANEL", "SERVICE", "LABOR", "HOURS", "SURVEY", "REPORT",
         "DESIGN", "REVIEW", "PHASE", "FIELD", "OFFICE", "SUPPLY", "MOUNT", "VALVE", "PUMP")


def _words(rng: random.Random, count: int, limit: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))[:limit].rstrip()


def _line(rng: random.Random, number: int, rich: bool) -> InvoiceLine:
    """A ten-line invoice's line (two id pairs), or a rich one of about 500 bytes and ten segments
    (IT1 with five id pairs, TXI, PID, two REF, SAC, and a ship-to N1 loop), as a project-billing
    810 with per-line delivery sites looks."""
    line = InvoiceLine(
        line_id=str(number), quantity=Decimal(rng.randint(1, 500)), unit="EA",
        unit_price=Decimal(rng.randint(100, 999_999)) / 100,
        product_ids=(ProductId("VP", f"VP-{rng.randint(0, 10**8):08d}"), ProductId("UP", f"{rng.randint(0, 10**12):012d}")),
        description=_words(rng, 12, 80),
    )
    if not rich:
        return line
    return InvoiceLine(
        line_id=line.line_id, quantity=line.quantity, unit=line.unit, unit_price=line.unit_price,
        product_ids=(*line.product_ids, ProductId("BP", f"BP-{rng.randint(0, 10**9):09d}"),
                     ProductId("SK", f"SKU-{rng.randint(0, 10**9):09d}-{rng.choice(WORDS)}"),
                     ProductId("MG", f"MFG-{rng.randint(0, 10**9):09d}")),
        description=line.description,
        refs=(Reference("FJ", str(number)), Reference("PJ", f"PRJ-{rng.randint(1000, 9999)}-{number:05d}",
                                                      _words(rng, 4, 40))),
        charges=(Charge("C", "G830", Decimal(rng.randint(100, 9999)) / 100, description="FREIGHT AND HANDLING"),),
        taxes=(Tax("ST", Decimal(rng.randint(1, 9999)) / 100, Decimal("8.25")),),
        parties=(Party("ST", f"SITE {rng.randint(1, 999)} {_words(rng, 4, 40)}", "92", f"{rng.randint(0, 10**8):08d}",
                       extra_names=("ATTN RECEIVING DOCK", _words(rng, 3, 30)),
                       address=(f"{rng.randint(1, 9999)} {_words(rng, 2, 30)} AVENUE", f"BUILDING {rng.randint(1, 99)}"),
                       city="SAN FRANCISCO", state="CA", postal_code="94107", country="US"),),
    )


def make_invoice(rng: random.Random, number: int, lines: int, rich: bool = False) -> Invoice810:
    """A plausible invoice; `total_stated` left None so the renderer writes the recomputed total."""
    day = date(2024, 1, 1) + timedelta(days=number % 365)
    return Invoice810(
        invoice_number=f"INV-{number:08d}", invoice_date=day, po_number=f"PO{rng.randint(10**5, 10**6)}",
        po_date=day - timedelta(days=7),
        parties=(Party("BT", "BUYER CORPORATION", "92", "1223334444", address=("PO BOX 1000",), city="TEMPLE",
                       state="TX", postal_code="76503", country="US"),
                 Party("RE", "ML CONNECTOR ENGINEERING", "92", "12345", address=("1 MARKET ST",), city="DALLAS",
                       state="TX", postal_code="75201", country="US")),
        refs=(Reference("PJ", f"P-{number % 997:04d}"),),
        terms=(Terms("01", "3", net_days=30, description="NET 30"),),
        lines=tuple(_line(rng, index + 1, rich) for index in range(lines)),
        charges=(Charge("C", "D240", Decimal("15.00")),),
    )


def best_of(runs: int, work: Callable[[], object]) -> float:
    """Best wall time of `runs`; what `work` returns is freed after the clock stops (a parse is
    measured until its invoices are ready, not until they are thrown away)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
        del result
    return best


CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from edi.x12 import iter_transaction_sets

def peak_kb():
    # VmHWM is this process's own peak resident set. ru_maxrss is not: Linux carries the
    # parent's peak over fork and exec, and the parent holds the other benchmarks' data.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

start = time.perf_counter()
invoices = lines = problems = 0
with open(sys.argv[1], "rb") as handle:
    for ts in iter_transaction_sets(handle, check=True):
        if ts.invoice is not None:
            invoices += 1
            lines += len(ts.invoice.lines)
        problems += len(ts.problems)
elapsed = time.perf_counter() - start
print(elapsed, invoices, lines, problems, peak_kb())
"""


def write_big_file(path: Path, target_bytes: int, rng: random.Random) -> int:
    """Interchanges of 100 ten-line invoices, written one at a time until `target_bytes`."""
    written = count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        while written < target_bytes:
            invoices = [make_invoice(rng, count + index, 10) for index in range(100)]
            text = render_interchange(invoices, ENVELOPE, controls=ControlNumbers(count // 100 + 1, count // 100 + 1),
                                      when=WHEN)
            handle.write(text)
            written += len(text.encode())
            count += 100
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, targets not judged")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rows: list[tuple[str, float, str, str, bool | None]] = []
    with tempfile.TemporaryDirectory(prefix="x12bench") as tmp:
        rng = random.Random(810)
        big_invoice = make_invoice(rng, 1, 10_000 // scale, rich=True)
        medium = Path(tmp, "invoice_10000_lines.edi")
        medium.write_text(render_interchange([big_invoice], ENVELOPE, controls=ControlNumbers(1, 1), when=WHEN),
                          encoding="utf-8")
        size = medium.stat().st_size
        megabytes = size / 1e6
        text = medium.read_text(encoding="utf-8")

        lines = 10_000 // scale

        def parse_typed() -> ParseResult:
            return parse_file(medium, check=False)

        def parse_validated() -> ParseResult:
            return parse_file(medium)

        for result in (parse_typed(), parse_validated()):
            assert len(result.invoices[0].lines) == lines and result.problems == []
        del result

        rows.append((f"parse {megabytes:.1f} MB ({lines} lines) into typed invoices", megabytes / best_of(3, parse_typed),
                     "MB/s", ">= 20", None))
        rows.append((f"parse {megabytes:.1f} MB into typed invoices + full validation",
                     megabytes / best_of(3, parse_validated), "MB/s", "(no target)", None))
        rows.append(("bare str.split into elements, same file",
                     megabytes / best_of(3, lambda: [s.split("*") for s in text.split("~")]), "MB/s", "(reference)",
                     None))

        count = 10_000 // scale
        small = [make_invoice(rng, index, 10) for index in range(count)]
        seconds = best_of(3, lambda: render_interchange(small, ENVELOPE, controls=ControlNumbers(2, 2), when=WHEN))
        rows.append((f"render {count} ten-line invoices", count / seconds, "invoices/s", ">= 5000", None))

        big = Path(tmp, "interchange_100mb.edi")
        written = write_big_file(big, 100_000_000 // scale, rng)
        child = subprocess.run([sys.executable, "-c", CHILD, str(big), str(ROOT)], capture_output=True, text=True,
                               check=True)
        elapsed, invoices, lines_read, problems, peak_kb = child.stdout.split()
        peak_mb = int(peak_kb) / 1024
        rows.append((f"stream {written / 1e6:.0f} MB validated ({invoices} invoices, {lines_read} lines, {problems} problems)",
                     written / 1e6 / float(elapsed), "MB/s", "", None))
        rows.append((f"peak memory streaming {written / 1e6:.0f} MB (child's peak RSS)", peak_mb, "MB", "< 150", None))

    judged = []
    for name, value, unit, target, _ in rows:
        ok: bool | None = None
        if target.startswith(">="):
            ok = value >= float(target[2:])
        elif target.startswith("<"):
            ok = value < float(target[1:])
        judged.append((name, value, unit, target, ok))
    width = max(len(row[0]) for row in judged)
    print(f"{'benchmark':<{width}}  {'value':>10}  {'unit':<10}  {'target':<11}  result")
    for name, value, unit, target, ok in judged:
        verdict = "" if ok is None else ("ok" if ok else "MISS")
        if args.quick and ok is not None:
            verdict = f"({verdict}, quick)"
        print(f"{name:<{width}}  {value:>10.1f}  {unit:<10}  {target:<11}  {verdict}")
    typed, validated, split = (row[1] for row in judged[:3])
    print(f"relative to the bare split on this run: typed parse {typed / split:.2f}x, validated {validated / split:.2f}x "
          "(the issue's target is 20 MB/s against a split of about 40 MB/s, i.e. 0.5x)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    missed = [row for row in judged if row[4] is False]
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
