"""One broken file per defect: each is found, placed and given the 997 code a partner expects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edi.x12 import (
    AckLevel,
    AckSetResult,
    ControlNumbers,
    Problem,
    ProblemCode,
    Severity,
    build_997,
    parse_text,
    read_997,
    validate,
)

from .helpers import VALID_4010, edit


def errors(text: str) -> list[Problem]:
    return [problem for problem in validate(text) if problem.severity is Severity.ERROR]


def only_error(text: str) -> Problem:
    found = errors(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def ack(text: str) -> list[AckSetResult]:
    return read_997(build_997(parse_text(text), controls=ControlNumbers(5, 5)))


def test_wrong_se01_is_ak5_code_4() -> None:
    problem = only_error(edit(VALID_4010, "SE*12*0001", "SE*11*0001"))
    assert (problem.code, problem.code.level, problem.code.ack_code) == (ProblemCode.SET_COUNT_MISMATCH, AckLevel.SET,
                                                                       "4")
    assert (problem.position.segment_number, problem.position.segment_id, problem.position.element) == (14, "SE", 1)
    (result,) = ack(edit(VALID_4010, "SE*12*0001", "SE*11*0001"))
    assert (result.status, result.set_codes, result.group_status) == ("R", ("4",), "R")


def test_se02_not_matching_st02_is_ak5_code_3() -> None:
    text = edit(VALID_4010, "SE*12*0001", "SE*12*0002")
    problem = only_error(text)
    assert (problem.code, problem.position.element, problem.value) == (ProblemCode.SET_CONTROL_MISMATCH, 2, "0002")
    assert ack(text)[0].set_codes == ("3",)


def test_ge01_count_mismatch_is_ak9_code_5() -> None:
    text = edit(VALID_4010, "GE*1*7", "GE*2*7")
    problem = only_error(text)
    assert (problem.code, problem.code.level, problem.code.ack_code) == (ProblemCode.GROUP_COUNT_MISMATCH,
                                                                       AckLevel.GROUP, "5")
    (result,) = ack(text)
    assert (result.status, result.group_status, result.group_codes) == ("A", "R", ("5",))


def test_ge02_control_mismatch_is_ak9_code_4() -> None:
    text = edit(VALID_4010, "GE*1*7", "GE*1*8")
    assert only_error(text).code is ProblemCode.GROUP_CONTROL_MISMATCH
    assert ack(text)[0].group_codes == ("4",)


def test_iea01_count_mismatch_is_ta1_code_021() -> None:
    problem = only_error(edit(VALID_4010, "IEA*1*", "IEA*2*"))
    assert (problem.code, problem.code.level, problem.code.ack_code) == (ProblemCode.INTERCHANGE_COUNT_MISMATCH,
                                                                       AckLevel.INTERCHANGE, "021")
    assert problem.position.segment_id == "IEA"


def test_iea02_control_mismatch_is_ta1_code_001() -> None:
    problem = only_error(edit(VALID_4010, "IEA*1*000000042", "IEA*1*000000043"))
    assert (problem.code, problem.code.ack_code, problem.position.element) == (
        ProblemCode.INTERCHANGE_CONTROL_MISMATCH, "001", 2)


def test_missing_big_is_ak3_code_3() -> None:
    text = edit(edit(VALID_4010, "BIG*20240102*INV-1*20231220*PO-9~\n", ""), "SE*12*", "SE*11*")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.code.ack_code) == (ProblemCode.SEGMENT_MISSING, "BIG",
                                                                                "3")
    assert parse_text(text).invoices[0].invoice_number == ""
    (result,) = ack(text)
    assert (result.status, result.segment_errors[0].segment_id, result.segment_errors[0].code) == ("R", "BIG", "3")


def test_missing_tds_is_ak3_code_3() -> None:
    text = edit(edit(VALID_4010, "TDS*2600~\n", ""), "SE*12*", "SE*11*")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id) == (ProblemCode.SEGMENT_MISSING, "TDS")
    assert parse_text(text).invoices[0].total_stated is None


def test_a_decimal_point_in_tds_is_an_invalid_character_ak4_code_6() -> None:
    text = edit(VALID_4010, "TDS*2600", "TDS*26.00")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.position.element, problem.code.ack_code) == (
        ProblemCode.ELEMENT_INVALID_CHARACTER, "TDS", 1, "6")
    assert "implied" in problem.message
    assert parse_text(text).invoices[0].total_stated == Decimal("26.00")  # read as written, but reported
    (result,) = ack(text)
    (segment,) = result.segment_errors
    assert (segment.segment_id, segment.code, segment.elements[0].element, segment.elements[0].code,
            segment.elements[0].element_number, segment.elements[0].bad_value) == ("TDS", "8", 1, "6", "610", "26.00")


def test_a_bad_date_is_ak4_code_8() -> None:
    text = edit(VALID_4010, "BIG*20240102*", "BIG*20240231*")
    problem = only_error(text)
    assert (problem.code, problem.position.element, problem.code.ack_code) == (ProblemCode.ELEMENT_INVALID_DATE, 1, "8")
    assert parse_text(text).invoices[0].invoice_date is None


def test_an_unknown_segment_is_ak3_code_1() -> None:
    text = edit(edit(VALID_4010, "CUR*SE*USD~", "CUR*SE*USD~\nZZZ*1*2~"), "SE*12*", "SE*13*")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.position.set_position, problem.code.ack_code) == (
        ProblemCode.SEGMENT_UNRECOGNIZED, "ZZZ", 4, "1")


def test_a_segment_of_another_set_is_ak3_code_6() -> None:
    text = edit(edit(VALID_4010, "CUR*SE*USD~", "CUR*SE*USD~\nPO1*1*2*EA~"), "SE*12*", "SE*13*")
    assert only_error(text).code is ProblemCode.SEGMENT_NOT_IN_SET


def test_segments_out_of_order_are_ak3_code_7() -> None:
    text = edit(VALID_4010, "BIG*20240102*INV-1*20231220*PO-9~\nCUR*SE*USD~", "CUR*SE*USD~\nBIG*20240102*INV-1*20231220*PO-9~")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.code.ack_code) == (
        ProblemCode.SEGMENT_OUT_OF_SEQUENCE, "BIG", "7")
    assert "before CUR" in problem.message
    assert ack(text)[0].segment_errors[0].code == "7"


def test_an_address_line_outside_its_party_loop_is_unexpected_ak3_code_2() -> None:
    text = edit(edit(VALID_4010, "CUR*SE*USD~", "CUR*SE*USD~\nN3*1 MAIN ST~"), "SE*12*", "SE*13*")
    assert only_error(text).code is ProblemCode.SEGMENT_UNEXPECTED


def test_a_party_id_qualifier_without_its_id_is_ak4_code_2() -> None:
    text = edit(VALID_4010, "N1*BT*BUYER INC*92*B1", "N1*BT*BUYER INC*92")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.position.element, problem.code.ack_code) == (
        ProblemCode.ELEMENT_CONDITIONAL_MISSING, "N1", 4, "2")


def test_a_product_id_qualifier_without_its_value_is_ak4_code_2() -> None:
    problem = only_error(edit(VALID_4010, "IT1*2*1*EA*5**VP*SKU-2", "IT1*2*1*EA*5**VP"))
    assert (problem.code, problem.position.element) == (ProblemCode.ELEMENT_CONDITIONAL_MISSING, 7)


def test_a_wrong_ctt01_is_ak4_code_7_on_ctt01() -> None:
    text = edit(VALID_4010, "CTT*2", "CTT*3")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_id, problem.position.element, problem.code.ack_code) == (
        ProblemCode.LINE_COUNT_MISMATCH, "CTT", 1, "7")
    assert "3 line items" in problem.message and "2 IT1" in problem.message


def test_an_invoice_number_too_long_is_ak4_code_5() -> None:
    problem = only_error(edit(VALID_4010, "*INV-1*", "*INV-1234567890123456789*"))
    assert (problem.code, problem.position.element, problem.code.ack_code) == (ProblemCode.ELEMENT_TOO_LONG, 2, "5")
    assert "BIG02 invoice number 'INV-1234567890123456789' is 23 characters; max 22" in problem.message


def test_a_mandatory_element_missing_is_ak4_code_1() -> None:
    problem = only_error(edit(VALID_4010, "BIG*20240102*INV-1*", "BIG*20240102**"))
    assert (problem.code, problem.position.element) == (ProblemCode.ELEMENT_MISSING, 2)


def test_too_many_elements_is_ak4_code_3() -> None:
    problem = only_error(edit(VALID_4010, "CTT*2", "CTT*2*******8"))
    assert (problem.code, problem.position.element) == (ProblemCode.TOO_MANY_ELEMENTS, 8)


def test_an_unknown_code_value_is_ak4_code_7() -> None:
    text = edit(edit(VALID_4010, "TDS*2600~", "TDS*2600~\nSAC*X*D240***500~"), "SE*12*", "SE*13*")
    problems = errors(text)
    assert [(p.code, p.position.element) for p in problems] == [(ProblemCode.ELEMENT_INVALID_CODE, 1)]


def test_two_big_segments_exceed_max_use_ak3_code_5() -> None:
    text = edit(edit(VALID_4010, "CUR*SE*USD~", "CUR*SE*USD~"), "BIG*20240102*INV-1*20231220*PO-9~",
                "BIG*20240102*INV-1*20231220*PO-9~\nBIG*20240102*INV-1*20231220*PO-9~")
    text = edit(text, "SE*12*", "SE*13*")
    assert [p.code for p in errors(text)] == [ProblemCode.SEGMENT_OVER_MAX_USE]


def test_a_set_without_se_is_ak5_code_2() -> None:
    text = edit(VALID_4010, "SE*12*0001~\n", "")
    problem = only_error(text)
    assert (problem.code, problem.code.ack_code) == (ProblemCode.SET_TRAILER_MISSING, "2")
    assert parse_text(text).invoices[0].invoice_number == "INV-1"


def test_a_group_without_ge_and_an_interchange_without_iea() -> None:
    text = VALID_4010.replace("GE*1*7~\n", "").replace("IEA*1*000000042~\n", "")
    assert [p.code for p in errors(text)] == [ProblemCode.GROUP_TRAILER_MISSING, ProblemCode.INTERCHANGE_TRAILER_MISSING]


def test_the_same_st02_twice_in_a_group_is_ak5_code_23() -> None:
    body = VALID_4010.split("GS*IN", 1)[1].split("\n", 1)[1].rsplit("GE*", 1)[0]
    text = edit(VALID_4010, body, body + body.replace("INV-1", "INV-2")).replace("GE*1*7", "GE*2*7")
    problem = only_error(text)
    assert (problem.code, problem.code.ack_code, problem.position.segment_number) == (
        ProblemCode.SET_CONTROL_NOT_UNIQUE, "23", 15)


def test_isa13_that_is_not_nine_digits_is_an_interchange_header_error() -> None:
    text = VALID_4010.replace("000000042", "00000004X")
    assert [p.code for p in errors(text)] == [ProblemCode.INTERCHANGE_HEADER_INVALID]


def test_a_segment_outside_any_set_is_reported() -> None:
    text = edit(VALID_4010, "GE*1*7~", "REF*ZZ*STRAY~\nGE*1*7~")
    problem = only_error(text)
    assert (problem.code, problem.position.segment_number) == (ProblemCode.SEGMENT_OUTSIDE_SET, 15)


@pytest.mark.parametrize(("old", "new", "code"), [
    ("TDS*2600", "TDS*2700", ProblemCode.TOTAL_MISMATCH),
    ("TDS*2600", "TDS*26", ProblemCode.TOTAL_WITHOUT_IMPLIED_DECIMALS),
])
def test_tds_against_the_lines_is_a_warning_that_does_not_reject(old: str, new: str, code: ProblemCode) -> None:
    text = edit(VALID_4010, old, new)
    (problem,) = validate(text)
    assert (problem.code, problem.severity, problem.position.segment_id) == (code, Severity.WARNING, "TDS")
    assert ack(text)[0].status == "A"


def test_every_error_in_a_set_lands_in_the_997_with_its_codes() -> None:
    text = edit(edit(VALID_4010, "BIG*20240102*INV-1*", "BIG*20241301*INV-1*"), "N1*BT*BUYER INC*92*B1",
                "N1*BT*BUYER INC*92")
    (result,) = ack(text)
    assert result.status == "R" and result.set_codes == ("5",)
    assert [(s.segment_id, s.position, s.code, [(e.element, e.code) for e in s.elements])
            for s in result.segment_errors] == [("BIG", 2, "8", [(1, "8")]), ("N1", 4, "8", [(4, "2")])]
