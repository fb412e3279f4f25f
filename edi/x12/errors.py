"""Problems found in X12 data, and the few exceptions the library raises.

A partner file is never "valid or not": it is read as far as it can be, and every doubt becomes a
`Problem` that says where (segment number in the file, segment id, element) and how bad. Each
problem code knows which 997 (or TA1) code it becomes, so the acknowledgment is built from the
same list the validator prints and nobody keeps a second mapping in sync.

Exceptions are kept for what cannot be turned into a problem: input that is not X12 at all
(`ReadError`), a value the renderer refuses to write (`RenderError`) and invoice JSON that does
not describe an invoice (`InvoiceDataError`). All derive from `X12Error`, so callers catch one
class and never see a bare ValueError or IndexError from this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Severity(StrEnum):
    """How a problem affects the acknowledgment.

    ERROR rejects the transaction set (997 AK5 R), WARNING is noted but accepted (AK5 E when it
    carries an AK3/AK4 code, otherwise only reported), NOTE is information for the log.
    """

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class AckLevel(StrEnum):
    """Which segment of the acknowledgment a problem code belongs to."""

    INTERCHANGE = "TA1"
    GROUP = "AK9"
    SET = "AK5"
    SEGMENT = "AK3"
    ELEMENT = "AK4"
    NONE = ""


class ProblemCode(Enum):
    """Every kind of problem, with the acknowledgment code it maps onto.

    The value is (slug, level, code): the slug is what the command line prints, level and code say
    where the problem lands in a 997 (AK3 segment codes 1-8, AK4 element codes 1-10, AK5 set
    codes, AK9 group codes) or a TA1 (interchange note codes).
    """

    # AK3 segment errors
    SEGMENT_UNRECOGNIZED = ("segment-unrecognized", AckLevel.SEGMENT, "1")
    SEGMENT_UNEXPECTED = ("segment-unexpected", AckLevel.SEGMENT, "2")
    SEGMENT_MISSING = ("segment-missing", AckLevel.SEGMENT, "3")
    LOOP_OVER_MAX = ("loop-over-max", AckLevel.SEGMENT, "4")
    SEGMENT_OVER_MAX_USE = ("segment-over-max-use", AckLevel.SEGMENT, "5")
    SEGMENT_NOT_IN_SET = ("segment-not-in-set", AckLevel.SEGMENT, "6")
    SEGMENT_OUT_OF_SEQUENCE = ("segment-out-of-sequence", AckLevel.SEGMENT, "7")
    # AK4 element errors (the segment is reported with AK3 code 8)
    ELEMENT_MISSING = ("element-missing", AckLevel.ELEMENT, "1")
    ELEMENT_CONDITIONAL_MISSING = ("element-conditional-missing", AckLevel.ELEMENT, "2")
    TOO_MANY_ELEMENTS = ("too-many-elements", AckLevel.ELEMENT, "3")
    ELEMENT_TOO_SHORT = ("element-too-short", AckLevel.ELEMENT, "4")
    ELEMENT_TOO_LONG = ("element-too-long", AckLevel.ELEMENT, "5")
    ELEMENT_INVALID_CHARACTER = ("element-invalid-character", AckLevel.ELEMENT, "6")
    ELEMENT_INVALID_CODE = ("element-invalid-code", AckLevel.ELEMENT, "7")
    ELEMENT_INVALID_DATE = ("element-invalid-date", AckLevel.ELEMENT, "8")
    ELEMENT_INVALID_TIME = ("element-invalid-time", AckLevel.ELEMENT, "9")
    ELEMENT_EXCLUSION_VIOLATED = ("element-exclusion-violated", AckLevel.ELEMENT, "10")
    # CTT01 is a count, not a code, but AK4 has no better code than "invalid value" (7).
    LINE_COUNT_MISMATCH = ("line-count-mismatch", AckLevel.ELEMENT, "7")
    # AK5 transaction set errors
    SET_NOT_SUPPORTED = ("set-not-supported", AckLevel.SET, "1")
    SET_TRAILER_MISSING = ("set-trailer-missing", AckLevel.SET, "2")
    SET_CONTROL_MISMATCH = ("set-control-mismatch", AckLevel.SET, "3")
    SET_COUNT_MISMATCH = ("set-segment-count-mismatch", AckLevel.SET, "4")
    SET_CONTROL_NOT_UNIQUE = ("set-control-not-unique", AckLevel.SET, "23")
    # AK9 functional group errors
    GROUP_NOT_SUPPORTED = ("group-not-supported", AckLevel.GROUP, "1")
    GROUP_TRAILER_MISSING = ("group-trailer-missing", AckLevel.GROUP, "3")
    GROUP_CONTROL_MISMATCH = ("group-control-mismatch", AckLevel.GROUP, "4")
    GROUP_COUNT_MISMATCH = ("group-set-count-mismatch", AckLevel.GROUP, "5")
    # TA1 interchange notes (a 997 cannot carry them)
    INTERCHANGE_CONTROL_MISMATCH = ("interchange-control-mismatch", AckLevel.INTERCHANGE, "001")
    INTERCHANGE_HEADER_INVALID = ("interchange-header-invalid", AckLevel.INTERCHANGE, "019")
    INTERCHANGE_COUNT_MISMATCH = ("interchange-group-count-mismatch", AckLevel.INTERCHANGE, "021")
    INTERCHANGE_TRAILER_MISSING = ("interchange-trailer-missing", AckLevel.INTERCHANGE, "023")
    # Reading and business checks that no acknowledgment code describes
    SEGMENT_OUTSIDE_SET = ("segment-outside-set", AckLevel.NONE, "")
    NO_ENVELOPE = ("no-envelope", AckLevel.NONE, "")
    ISA_NOT_FIXED_WIDTH = ("isa-not-fixed-width", AckLevel.NONE, "")
    SET_SKIPPED = ("set-skipped", AckLevel.NONE, "")
    NOT_UTF8 = ("not-utf8", AckLevel.NONE, "")
    TOTAL_MISMATCH = ("total-mismatch", AckLevel.NONE, "")
    TOTAL_WITHOUT_IMPLIED_DECIMALS = ("total-without-implied-decimals", AckLevel.NONE, "")
    TOTAL_COPIED = ("total-copied", AckLevel.NONE, "")
    DUPLICATE_INVOICE_NUMBER = ("duplicate-invoice-number", AckLevel.NONE, "")

    def __init__(self, slug: str, level: AckLevel, ack_code: str) -> None:
        self.slug = slug
        self.level = level
        self.ack_code = ack_code


@dataclass(frozen=True, slots=True)
class Position:
    """Where a problem is: what a person needs to find it in the file and a 997 needs to name it.

    `segment_number` counts segments from the start of the file (ISA is 1); `set_position` counts
    from the set's ST (ST is 1), which is what AK3 reports. Elements and components are 1-based.
    """

    segment_number: int
    segment_id: str
    element: int | None = None
    component: int | None = None
    set_position: int | None = None

    def __str__(self) -> str:
        where = f"segment {self.segment_number} {self.segment_id}"
        if self.element is not None:
            where += f"{self.element:02d}"
            if self.component is not None:
                where += f"-{self.component}"
        return where


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about the data, always with a position."""

    code: ProblemCode
    message: str
    position: Position
    severity: Severity = Severity.ERROR
    value: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        return f"{self.position}: {self.severity.value} {self.code.slug}: {self.message}"


class X12Error(Exception):
    """Base of every exception this package raises on purpose."""

    def __init__(self, code: str, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message if self.position is None else f"{self.position}: {self.message}"


class ReadError(X12Error):
    """The input is not X12 at all (no ISA, GS or ST to start from), or cannot be opened."""


class RenderError(X12Error):
    """The renderer refused a value; `field` names the X12 element (e.g. BIG02)."""

    def __init__(self, field: str, message: str, code: str = "render-refused") -> None:
        super().__init__(code, message)
        self.field = field


class InvoiceDataError(X12Error):
    """Invoice or envelope JSON that cannot become an `Invoice810`; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__("invoice-data", f"{path}: {message}")
        self.path = path
