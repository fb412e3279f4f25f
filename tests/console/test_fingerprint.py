"""Folding errors into groups, on the messages the flows really write (each string below is
built the way the code named beside it builds it)."""
import pytest

from connector.failures import ConfigFailure, DataFailure, MappingMissing, TransientFailure
from console.fingerprint import error_pattern, fingerprint


def message(exc) -> str:
    return str(exc)  # what the pipeline stores as last_error for an IntegrationFailure


SAME_PROBLEM = [
    # edi/outbound/mapping.py: an invoice with no lines
    (DataFailure("invoice 1002 has no lines: an 810 needs at least one IT1", system="ar-810"),
     DataFailure("invoice 1003 has no lines: an 810 needs at least one IT1", system="ar-810")),
    (DataFailure("invoice DS-1002 has no lines: an 810 needs at least one IT1", system="ar-810"),
     DataFailure("invoice DS-1077 has no lines: an 810 needs at least one IT1", system="ar-810")),
    # edi/outbound/flow.py: a billing client Vantagepoint does not know
    (DataFailure("billing client 0000035 of invoice 1002 is not in Vantagepoint", system="vantagepoint"),
     DataFailure("billing client 0000041 of invoice 2040 is not in Vantagepoint", system="vantagepoint")),
    # edi/outbound/mapping.py: a value too long for its element
    (DataFailure("BIG04 'PO-2024-000017-REVISED' is 24 characters; the 810 allows 22", system="ar-810"),
     DataFailure("BIG04 'PO 99 FOR THE NEW WAREHOUSE' is 29 characters; the 810 allows 22", system="ar-810")),
    # connector/vantagepoint/records.py: a column that is not an amount
    (DataFailure("InvoiceAmount should be an amount, got '12,5O'", system="vantagepoint"),
     DataFailure("InvoiceAmount should be an amount, got 'n/a'", system="vantagepoint")),
    # connector/vantagepoint/postings.py: a batch Vantagepoint refused
    (DataFailure("PostTransFile did not post batch MLC-AP-000123: line 1 amount 1,234.56 is out of balance",
                 system="vantagepoint"),
     DataFailure("PostTransFile did not post batch MLC-AP-000977: line 3 amount 88.10 is out of balance",
                 system="vantagepoint")),
    # edi/cleo/client.py: an upload answered 5xx, per file name
    (TransientFailure("upload of 'HARBORGROUP_810-0000035-202406-1_20240612T101112Z.edi' answered 502", system="cleo"),
     TransientFailure("upload of 'HARBORGROUP_810-0000041-202407-3_20240701T080000Z.edi' answered 502", system="cleo")),
    # connector/http.py: retries exhausted on one path or another with an id in it
    (TransientFailure("GET /Sandbox/api/project/P-100 answered 503 after 5 tries", system="vantagepoint"),
     TransientFailure("GET /Sandbox/api/project/P-2231 answered 503 after 5 tries", system="vantagepoint")),
    # edi/outbound/acks.py: a 997 that cannot be read, per file and control number
    (DataFailure("Inbound/ack_000000017.x12: not a readable 997 (ISA13 000000017 does not match IEA02 000000018)",
                 system="x12"),
     DataFailure("Inbound/ack_000000204.x12: not a readable 997 (ISA13 000000204 does not match IEA02 000000201)",
                 system="x12")),
    # edi/outbound/mapping.py: the remit-to address of a tenant, dated
    (DataFailure("invoice 1002 dated 2024-06-12 totals $1,200.00 but its lines total $1,150.00", system="ar-810"),
     DataFailure("invoice 1009 dated 2024-07-01 totals $88.00 but its lines total $80.00", system="ar-810")),
]

DIFFERENT_PROBLEMS = [
    # A 404 is not a 503: the status says what kind of problem it is.
    (TransientFailure("GET /Sandbox/api/project/P-100 answered 503 after 5 tries", system="vantagepoint"),
     DataFailure("GET /Sandbox/api/project/P-100 answered 404: not found", system="vantagepoint")),
    # Different X12 elements are different defects.
    (DataFailure("BIG04 'PO-1' is 24 characters; the 810 allows 22", system="ar-810"),
     DataFailure("N102 'ACME' is 24 characters; the 810 allows 22", system="ar-810")),
    # Another system, another problem.
    (ConfigFailure("login refused: wrong password", system="cleo"),
     ConfigFailure("login refused: wrong password", system="vantagepoint")),
    (DataFailure("invoice 1002 has no lines: an 810 needs at least one IT1", system="ar-810"),
     DataFailure("invoice 1002 has no billing client", system="ar-810")),
]


@pytest.mark.parametrize(("one", "other"), SAME_PROBLEM, ids=[str(a)[:40] for a, _ in SAME_PROBLEM])
def test_the_same_problem_with_other_particulars_folds_to_one_pattern(one, other):
    assert error_pattern(message(one)) == error_pattern(message(other))
    assert fingerprint("failure", error_pattern(message(one))) == fingerprint("failure", error_pattern(message(other)))


@pytest.mark.parametrize(("one", "other"), DIFFERENT_PROBLEMS, ids=[str(a)[:40] for a, _ in DIFFERENT_PROBLEMS])
def test_different_problems_stay_apart(one, other):
    assert error_pattern(message(one)) != error_pattern(message(other))


def test_the_pattern_reads_as_the_problem_with_placeholders():
    assert error_pattern("ar-810: invoice 1002 has no lines: an 810 needs at least one IT1") == \
        "ar-810: invoice <n> has no lines: an 810 needs at least one IT1"
    assert error_pattern("cleo: upload of 'HARBORGROUP_810-1.edi' answered 502") == "cleo: upload of '<v>' answered 502"
    assert error_pattern("vantagepoint: GET /Sandbox/api/project/P-100 answered 404: not found") == \
        "vantagepoint: GET /Sandbox/api/project/<id> answered 404: not found"
    assert error_pattern("x12: file Inbound/ack_17.x12 is empty") == "x12: file <file> is empty"
    assert error_pattern("echo: no vendor for sender ZZ:ACME01") == "echo: no vendor for sender <id>"


def test_a_traceback_groups_by_its_first_line_and_a_long_message_is_capped():
    bug = "ZeroDivisionError: division by zero\nTraceback (most recent call last):\n  File 'x.py', line 3"
    assert error_pattern(bug) == "ZeroDivisionError: division by zero"
    assert len(error_pattern("word " * 1000)) == 1000
    assert error_pattern("") == ""


def test_a_mapping_message_is_a_real_one():
    # edi/inbound/resolve.py names what is missing; the engine's MappingMissing carries it.
    exc = MappingMissing("no vendor for sender ZZ:ACME01 (Acme Supply); no project for PO 4471")
    assert error_pattern(str(exc)) == "no vendor for sender <id> (Acme Supply); no project for PO <n>"
