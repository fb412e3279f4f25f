"""`python -m edi.x12` as a shell user and a script see it: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edi.x12 import invoice_from_dict, parse_file, parse_text, read_997

from .helpers import REPO, VALID_4010, edit, sample

ENVELOPE = {"sender_id": "MLCONNECTOR", "receiver_id": "ACME", "version": "005010", "usage": "P",
            "interchange_control": 31, "group_control": 32, "first_set_control": 33, "date": "2024-02-03T04:05:00"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edi.x12", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)


def test_parse_prints_the_invoices_as_json_with_decimals_as_strings() -> None:
    done = run("parse", str(sample("01_staedi_simple810_2ST.edi")))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["valid"] is True
    first, second = document["invoices"]
    assert (first["invoice_number"], first["invoice_date"], first["po_number"]) == ("00001", "1997-12-11", "A99999-01")
    assert (first["total_stated"], first["total_computed"], first["due_date"]) == ("2554.38", "2554.38", "1997-12-27")
    assert first["lines"][0]["unit_price"] == "12.34" and first["lines"][0]["quantity"] == "16"
    assert second["total_computed"] == "1851.00"
    assert [p["code"] for p in document["problems"]] == ["duplicate-invoice-number", "total-copied"]
    assert document["problems"][1]["position"] == {"segment_number": 52, "segment_id": "TDS", "element": 1,
                                                   "component": None, "set_position": 18}


def test_parse_lists_the_sets_it_skipped() -> None:
    document = json.loads(run("parse", str(sample("02_staedi_810_850_2GS.edi"))).stdout)
    assert document["skipped"] == [{"set_id": "850", "control_number": "000191240", "segment_number": 59}]


def test_validate_exits_0_on_a_valid_file() -> None:
    done = run("validate", str(sample("15_x12types_005010_edi2xml.edi")))
    assert (done.returncode, done.stdout) == (0, "")


def test_validate_exits_0_with_warnings_shown_and_1_with_strict() -> None:
    path = str(sample("05_edinet_810c_ariba_hdr.edi"))
    done = run("validate", path)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "segment 1 ISA02: warning isa-not-fixed-width: the ISA is not fixed width: ISA02 ' ' is 1 characters, "
        "the standard fixes 10",
        "segment 38 TDS01: warning total-mismatch: TDS01 411.92 differs from the recomputed total 370.73",
    ]
    assert run("validate", "--strict", path).returncode == 1


def test_an_isa_that_is_not_fixed_width_is_read_then_named_a_warning_and_an_error_with_strict(tmp_path: Path) -> None:
    path = tmp_path / "trimmed.edi"
    path.write_text(edit(VALID_4010, "*ZZ*SENDER         *", "*ZZ*SENDER*"))
    assert parse_file(path).invoices == parse_text(VALID_4010).invoices, "read as the fixed-width one is"
    done = run("validate", str(path))
    assert (done.returncode, done.stdout) == (0, "segment 1 ISA06: warning isa-not-fixed-width: the ISA is not fixed "
                                                 "width: ISA06 'SENDER' is 6 characters, the standard fixes 15\n")
    strict = run("validate", "--strict", str(path))
    assert (strict.returncode, strict.stdout) == (1, done.stdout)


def test_validate_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.edi"
    path.write_text(edit(edit(VALID_4010, "CTT*2", "CTT*3"), "SE*12*0001", "SE*12*0002"))
    done = run("validate", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "segment 13 CTT01: error line-count-mismatch: CTT01 says 3 line items; the set has 2 IT1 segments",
        "segment 14 SE02: error set-control-mismatch: SE02 '0002' does not match ST02 '0001'",
    ]


def test_validate_verbose_shows_notes() -> None:
    done = run("validate", "-v", str(sample("02_staedi_810_850_2GS.edi")))
    assert done.returncode == 0
    assert "note set-skipped" in done.stdout


@pytest.mark.parametrize("command", ["parse", "validate", "ack"])
def test_unreadable_input_exits_2(command: str, tmp_path: Path) -> None:
    missing = run(command, str(tmp_path / "missing.edi"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr and missing.stdout == ""
    not_x12 = tmp_path / "letter.txt"
    not_x12.write_text("Dear partner, please find attached...")
    done = run(command, str(not_x12))
    assert done.returncode == 2 and "does not start with ISA" in done.stderr


def test_render_prints_x12_for_what_parse_printed(tmp_path: Path) -> None:
    document = json.loads(run("parse", str(sample("10_oopfactory_caliso_negative.txt"))).stdout)
    request = tmp_path / "invoices.json"
    request.write_text(json.dumps({"invoices": document["invoices"], "envelope": ENVELOPE}))
    done = run("render", str(request))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ISA*00*          *00*          *ZZ*MLCONNECTOR    *ZZ*ACME           *240203*0405*^"
                                  "*00501*000000031*0*P*>~GS*IN*MLCONNECTOR*ACME*20240203*0405*32*X*005010~ST*810*0033~")
    rendered = parse_text(done.stdout)
    original = parse_file(sample("10_oopfactory_caliso_negative.txt"))
    assert [invoice_from_dict({**i, "source": None}) for i in document["invoices"]] == \
        [replace(i, source=None) for i in rendered.invoices]
    assert rendered.invoices[0].total_stated == original.invoices[0].total_stated
    assert rendered.is_valid


def test_render_accepts_a_single_invoice_object(tmp_path: Path) -> None:
    invoice = json.loads(run("parse", str(sample("15_x12types_005010_edi2xml.edi"))).stdout)["invoices"][0]
    request = tmp_path / "one.json"
    request.write_text(json.dumps({**invoice, "envelope": {"sender_id": "ME", "receiver_id": "YOU"}}))
    done = run("render", str(request))
    assert done.returncode == 0, done.stderr
    assert parse_text(done.stdout).invoices[0].invoice_number == "I-0042537"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold an object"),
    ('{"invoices": []}', "envelope"),
    ('{"envelope": {"sender_id": "ME", "receiver_id": "YOU"}, "invoices": [{"invoice_number": "1"}]}',
     "invoices[0].invoice_date: is required"),
    ('{"envelope": {"sender_id": "ME", "receiver_id": "YOU"}, "invoices": [{"invoice_number": "1", '
     '"invoice_date": "2024-13-01"}]}', "not an ISO date"),
    ('{"envelope": {"sender_id": "ME", "receiver_id": "YOU"}, "invoices": [{"invoice_number": "1", '
     '"invoice_date": "2024-01-01", "total_stated": true}]}', "total_stated: must be a decimal string, not bool"),
    ('{"envelope": {"sender_id": "ME", "receiver_id": "YOU", "colour": "red"}, "invoices": []}', "unknown key(s) colour"),
])
def test_bad_json_exits_2_naming_the_problem(content: str, message: str, tmp_path: Path) -> None:
    request = tmp_path / "bad.json"
    request.write_text(content)
    done = run("render", str(request))
    assert done.returncode == 2
    assert message in done.stderr


def test_render_refuses_a_value_that_does_not_fit_with_exit_1(tmp_path: Path) -> None:
    request = tmp_path / "long.json"
    request.write_text(json.dumps({"envelope": {"sender_id": "ME", "receiver_id": "YOU"},
                                   "invoices": [{"invoice_number": "N" * 25, "invoice_date": "2024-01-01"}]}))
    done = run("render", str(request))
    assert done.returncode == 1
    assert "BIG02 invoice number 'NNNNNNNNNNNNNNNNNNNNNNNNN' is 25 characters; max 22" in done.stderr
    assert done.stdout == ""


def test_ack_prints_the_997(tmp_path: Path) -> None:
    done = run("ack", "--isa13", "77", "--gs06", "78", "--date", "2024-05-06T07:08",
               str(sample("12_oopfactory_multiinvoice_00403.txt")))
    assert done.returncode == 0, done.stderr
    assert "*240506*0708*U*00401*000000077*0*P*>~GS*FA*8019721193*ABYZ000*20240506*0708*78*X*004010~" in done.stdout
    assert [(r.set_control, r.status) for r in read_997(done.stdout)] == [("2240001", "R"), ("2240002", "R")]


def test_ack_with_partner_envelope_settings(tmp_path: Path) -> None:
    settings = tmp_path / "envelope.json"
    settings.write_text(json.dumps({**ENVELOPE, "version": "004010"}))
    done = run("ack", "--envelope", str(settings), str(sample("01_staedi_simple810_2ST.edi")))
    assert done.returncode == 0, done.stderr
    assert "*ZZ*MLCONNECTOR    *ZZ*ACME           *240203*0405*U*00401*000000031*0*P*>~" in done.stdout
    assert [r.status for r in read_997(done.stdout)] == ["A", "A"]
