"""997s: ours built from what was received, the partner's read into per-set results."""

from __future__ import annotations

from datetime import datetime

import pytest

from edi.x12 import (
    ControlNumbers,
    EnvelopeSettings,
    ProblemCode,
    ReadError,
    build_997,
    parse_file,
    parse_text,
    read_997,
    validate,
)

from .helpers import VALID_4010, edit, sample

WHEN = datetime(2024, 1, 3, 9, 30)


def test_an_accepted_interchange_gets_a_997_back_to_its_sender() -> None:
    text = build_997(parse_text(VALID_4010), controls=ControlNumbers(900, 901), when=WHEN)
    assert text.split("~") == [
        "ISA*00*          *00*          *ZZ*RECEIVER       *ZZ*SENDER         *240103*0930*U*00401*000000900*0*T*>",
        "GS*FA*RECEIVER*SENDER*20240103*0930*901*X*004010",
        "ST*997*0001",
        "AK1*IN*7",
        "AK2*810*0001",
        "AK5*A",
        "AK9*A*1*1*1",
        "SE*6*0001",
        "GE*1*901",
        "IEA*1*000000900",
        "",
    ]
    assert [p for p in validate(text) if p.is_error] == []


def test_the_997_of_a_5010_group_names_the_version_in_ak1() -> None:
    text = build_997(parse_file(sample("15_x12types_005010_edi2xml.edi")), controls=ControlNumbers(1, 1), when=WHEN)
    assert "AK1*IN*1*005010~" in text and "*^*00501*" in text


def test_a_partner_envelope_and_later_interchanges_take_the_next_control_numbers() -> None:
    two = VALID_4010 + VALID_4010.replace("000000042", "000000043")
    envelope = EnvelopeSettings(sender_id="US", receiver_id="THEM", segment_terminator="\n", element_separator="|")
    text = build_997(parse_text(two), envelope, controls=ControlNumbers(10, 20, 30), when=WHEN)
    isas = [line for line in text.splitlines() if line.startswith("ISA")]
    assert [isa.split("|")[13] for isa in isas] == ["000000010", "000000011"]
    assert "ST|997|0030" in text and "GS|FA|US|THEM|20240103|0930|21|X|004010" in text
    assert [r.status for r in read_997(text)] == ["A", "A"]


def test_accepted_rejected_and_partially_accepted_groups() -> None:
    body = VALID_4010.split("GS*IN", 1)[1].split("\n", 1)[1].rsplit("GE*", 1)[0]
    broken = body.replace("*0001~", "*0002~").replace("CTT*2", "CTT*9")
    text = edit(VALID_4010, body, body + broken).replace("GE*1*7", "GE*2*7")
    results = read_997(build_997(parse_text(text), controls=ControlNumbers(1, 1)))
    assert [(r.set_control, r.status, r.set_codes, r.group_status) for r in results] == [
        ("0001", "A", (), "P"), ("0002", "R", ("5",), "P")]
    assert results[1].segment_errors[0].segment_id == "CTT"
    assert results[1].segment_errors[0].elements[0].code == "7"
    assert [r.accepted for r in results] == [True, False]


def test_noted_only_codes_accept_with_errors() -> None:
    text = edit(VALID_4010, "CTT*2", "CTT*9")
    (result,) = read_997(build_997(parse_text(text), controls=ControlNumbers(1, 1),
                                   noted_only={ProblemCode.LINE_COUNT_MISMATCH}))
    assert (result.status, result.set_codes, result.group_status) == ("E", ("5",), "E")


def test_bad_data_with_our_delimiters_is_not_copied_into_ak4() -> None:
    text = edit(VALID_4010, "BIG*20240102*", "BIG*2024~0102*".replace("~", ">"))
    reply = build_997(parse_text(text), controls=ControlNumbers(1, 1))
    assert "AK4*1*373*8~" in reply
    assert [p for p in validate(reply) if p.is_error] == []


def test_reading_a_partner_999_with_ik_segments() -> None:
    reply = (
        "ISA*00*          *00*          *ZZ*ACME           *ZZ*MLCONNECTOR    *240103*0930*^*00501*000000077*0*P*:~"
        "GS*FA*ACME*MLCONNECTOR*20240103*0930*77*X*005010X231A1~ST*999*0001*005010X231A1~AK1*IN*56*005010~"
        "AK2*810*0007~IK3*TDS*18**8~IK4*1:0*610*6*26.00~IK5*R*5~AK2*810*0008~IK5*A~AK9*P*2*2*1~SE*9*0001~"
        "GE*1*77~IEA*1*000000077~"
    )
    first, second = read_997(reply)
    assert (first.functional_id, first.group_control, first.set_id, first.set_control, first.status) == (
        "IN", "56", "810", "0007", "R")
    (error,) = first.segment_errors
    assert (error.segment_id, error.position, error.code) == ("TDS", 18, "8")
    assert [(e.element, e.component, e.element_number, e.code, e.bad_value) for e in error.elements] == [
        (1, 0, "610", "6", "26.00")]
    assert (second.set_control, second.status, second.group_status) == ("0008", "A", "P")


def test_a_group_acknowledged_without_set_loops_is_one_group_result() -> None:
    reply = edit(build_997(parse_text(VALID_4010), controls=ControlNumbers(1, 1)), "AK2*810*0001~AK5*A~", "")
    (result,) = read_997(reply)
    assert (result.group_control, result.set_control, result.status, result.group_status) == ("7", None, "A", "A")


def test_something_that_is_not_a_997_is_refused() -> None:
    with pytest.raises(ReadError, match="997"):
        read_997(VALID_4010)


def test_nothing_to_acknowledge_is_refused() -> None:
    with pytest.raises(ReadError):
        build_997(parse_text("ISA*00*          *00*          *ZZ*A              *ZZ*B              *240102*1200*U*"
                             "00401*000000001*0*T*>~IEA*0*000000001~"), controls=ControlNumbers(1, 1))


def test_a_997_built_from_text_reads_it_first() -> None:
    assert build_997(VALID_4010, controls=ControlNumbers(1, 1), when=WHEN) == \
        build_997(parse_text(VALID_4010), controls=ControlNumbers(1, 1), when=WHEN)
