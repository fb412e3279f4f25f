"""X12 810 invoices and 997 acknowledgments: read, validate, render, acknowledge.

Pure Python with no Django and nothing else from the project, so the outbound flow (AR invoice to
810), the inbound flow (810 to AP invoice, 997 back) and the command line all stand on the same
small, tested base. Money is Decimal throughout.

    result = parse_file("partner.edi")          # ParseResult: invoices, problems, envelopes
    problems = validate(text)                    # list[Problem], each with position and 997 codes
    text = render_interchange(invoices, EnvelopeSettings(...), controls=ControlNumbers(...))
    reply = build_997(result, controls=ControlNumbers(...))
    results = read_997(partner_reply)
"""

from .ack import AckElementError, AckSegmentError, AckSetResult, build_997, read_997, reply_envelope
from .errors import (
    AckLevel,
    InvoiceDataError,
    Position,
    Problem,
    ProblemCode,
    ReadError,
    RenderError,
    Severity,
    X12Error,
)
from .jsonio import envelope_from_dict, invoice_from_dict, invoice_to_dict
from .model import (
    Charge,
    DateReference,
    FunctionalGroup,
    Interchange,
    Invoice810,
    InvoiceLine,
    Party,
    ProductId,
    Reference,
    SourceEnvelope,
    Tax,
    Terms,
    TransactionSet,
)
from .parser import ParseResult, iter_invoices, iter_transaction_sets, parse_file, parse_text
from .reader import Delimiters, Segment, iter_segments
from .renderer import CREDIT_AS_BIG07, CREDIT_AS_NEGATIVE, ControlNumbers, EnvelopeSettings, render_interchange
from .validator import validate

__all__ = [
    "CREDIT_AS_BIG07",
    "CREDIT_AS_NEGATIVE",
    "AckElementError",
    "AckLevel",
    "AckSegmentError",
    "AckSetResult",
    "Charge",
    "ControlNumbers",
    "DateReference",
    "Delimiters",
    "EnvelopeSettings",
    "FunctionalGroup",
    "Interchange",
    "Invoice810",
    "InvoiceDataError",
    "InvoiceLine",
    "ParseResult",
    "Party",
    "Position",
    "Problem",
    "ProblemCode",
    "ProductId",
    "ReadError",
    "Reference",
    "RenderError",
    "Segment",
    "Severity",
    "SourceEnvelope",
    "Tax",
    "Terms",
    "TransactionSet",
    "X12Error",
    "build_997",
    "envelope_from_dict",
    "invoice_from_dict",
    "invoice_to_dict",
    "iter_invoices",
    "iter_segments",
    "iter_transaction_sets",
    "parse_file",
    "parse_text",
    "read_997",
    "render_interchange",
    "reply_envelope",
    "validate",
]
