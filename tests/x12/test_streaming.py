"""Reading streams: memory stays bounded however large the interchange, invoices arrive one by one."""

from __future__ import annotations

import io
import tracemalloc
from datetime import date, datetime
from decimal import Decimal

from edi.x12 import (
    ControlNumbers,
    EnvelopeSettings,
    Invoice810,
    InvoiceLine,
    Party,
    iter_invoices,
    iter_transaction_sets,
    parse_text,
    render_interchange,
)
from edi.x12.envelope import InterchangeReader

ENVELOPE = EnvelopeSettings("SELLER", "BUYER", newline=True)


def interchange(count: int, start: int) -> bytes:
    invoices = [Invoice810(f"INV-{start + n}", date(2024, 1, 1), parties=(Party("BT", "BUYER", "92", "B1"),),
                           lines=tuple(InvoiceLine(str(k), Decimal(k), "EA", Decimal("9.99"), description="THING " * 10)
                                       for k in range(1, 11)), total_stated=Decimal("549.45"))
                for n in range(count)]
    return render_interchange(invoices, ENVELOPE, controls=ControlNumbers(start + 1, start + 1),
                              when=datetime(2024, 1, 1)).encode()


def peak_while(work: object) -> int:
    tracemalloc.start()
    try:
        work()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_file() -> None:
    small = b"".join(interchange(50, n * 50) for n in range(2))    # about 0.2 MB
    large = b"".join(interchange(50, n * 50) for n in range(12))   # about 1.2 MB

    def stream(data: bytes, expected: int) -> object:
        def work() -> None:
            count = 0
            for ts in InterchangeReader(io.BytesIO(data), chunk_chars=32_768):
                assert ts.invoice is not None and not ts.problems
                count += 1
            assert count == expected
        return work

    small_peak, large_peak = peak_while(stream(small, 100)), peak_while(stream(large, 600))
    kept_peak = peak_while(lambda: parse_text(large))
    assert large_peak < small_peak * 1.5 + 200_000, (small_peak, large_peak)
    assert kept_peak > 3 * large_peak, (kept_peak, large_peak)


def test_iter_invoices_yields_each_invoice_as_its_set_ends() -> None:
    data = interchange(3, 0)
    stream = iter_invoices(io.BytesIO(data))
    assert next(stream).invoice_number == "INV-0"
    assert [invoice.invoice_number for invoice in stream] == ["INV-1", "INV-2"]
    assert [ts.control_number for ts in iter_transaction_sets(data)] == ["0001", "0002", "0003"]
