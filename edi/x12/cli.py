"""`python -m edi.x12`: parse, validate, render and acknowledge from a shell.

For people looking at a partner's file and for scripts: exit 0 means fine, 1 means the data has
errors (or a value was refused), 2 means the input could not be read at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .ack import build_997
from .errors import InvoiceDataError, ReadError, RenderError, Severity
from .jsonio import envelope_from_dict, invoice_from_dict, invoice_to_dict, to_jsonable
from .parser import parse_file
from .renderer import ControlNumbers, render_interchange

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def _problem_dict(problem: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "position": to_jsonable(problem.position),
        "severity": problem.severity.value,
        "code": problem.code.slug,
        "message": problem.message,
        "text": str(problem),
    }
    return data


def _parse(args: argparse.Namespace) -> int:
    result = parse_file(args.file, check=not args.no_check)
    document = {
        "file": args.file,
        "valid": result.is_valid,
        "invoices": [invoice_to_dict(invoice) for invoice in result.invoices],
        "skipped": [{"set_id": ts.set_id, "control_number": ts.control_number, "segment_number": ts.segment_number}
                    for ts in result.transaction_sets if ts.invoice is None],
        "problems": [_problem_dict(problem) for problem in result.problems],
    }
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    result = parse_file(args.file)
    shown = (Severity.ERROR, Severity.WARNING, Severity.NOTE) if args.verbose else (Severity.ERROR, Severity.WARNING)
    failing = (Severity.ERROR, Severity.WARNING) if args.strict else (Severity.ERROR,)
    failed = False
    for problem in result.problems:
        if problem.severity in shown:
            sys.stdout.write(f"{problem}\n")
        failed = failed or problem.severity in failing
    return EXIT_INVALID if failed else EXIT_OK


def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, parse_float=Decimal)
    except OSError as exc:
        raise ReadError("unreadable", f"cannot open {path!r}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvoiceDataError(path, f"not valid JSON: {exc}") from exc


def _render(args: argparse.Namespace) -> int:
    data = _load_json(args.file)
    if not isinstance(data, dict):
        raise InvoiceDataError(args.file, "must hold an object with \"invoices\" and \"envelope\"")
    if "envelope" not in data:
        raise InvoiceDataError(f"{args.file}: envelope", "is required (sender_id, receiver_id, ...)")
    envelope, controls, when = envelope_from_dict(data["envelope"])
    if "invoices" in data:
        items = data["invoices"]
        if not isinstance(items, list):
            raise InvoiceDataError("invoices", "must be a list")
        invoices = [invoice_from_dict(item, f"invoices[{index}]") for index, item in enumerate(items)]
    else:
        invoice = {key: value for key, value in data.items() if key != "envelope"}
        invoices = [invoice_from_dict(invoice)]
    sys.stdout.write(render_interchange(invoices, envelope, controls=controls, when=when))
    if not envelope.newline:
        sys.stdout.write("\n")
    return EXIT_OK


def _ack(args: argparse.Namespace) -> int:
    result = parse_file(args.file)
    envelope = None
    when = None
    controls = ControlNumbers(args.isa13, args.gs06)
    if args.envelope:
        envelope, controls, when = envelope_from_dict(_load_json(args.envelope))
    if args.date:
        when = datetime.fromisoformat(args.date)
    sys.stdout.write(build_997(result, envelope, controls=controls, when=when))
    sys.stdout.write("\n")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edi.x12", description="X12 810 invoices and 997 acknowledgments")
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="print the invoices in FILE as JSON")
    parse.add_argument("file")
    parse.add_argument("--no-check", action="store_true", help="skip validation (faster)")
    parse.set_defaults(run=_parse)
    validate = commands.add_parser("validate", help="exit 0 when FILE is valid, 1 with one line per problem")
    validate.add_argument("file")
    validate.add_argument("--strict", action="store_true", help="warnings fail too")
    validate.add_argument("-v", "--verbose", action="store_true", help="print notes as well")
    validate.set_defaults(run=_validate)
    render = commands.add_parser("render", help="print X12 for the invoices in a JSON file")
    render.add_argument("file")
    render.set_defaults(run=_render)
    ack = commands.add_parser("ack", help="print the 997 acknowledging FILE")
    ack.add_argument("file")
    ack.add_argument("--isa13", type=int, default=1, help="interchange control number of the 997")
    ack.add_argument("--gs06", type=int, default=1, help="group control number of the 997")
    ack.add_argument("--envelope", help="JSON file with envelope settings (default: reply to the sender)")
    ack.add_argument("--date", help="ISO date-time to stamp the 997 with (default: now)")
    ack.set_defaults(run=_ack)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except (ReadError, InvoiceDataError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_UNREADABLE
    except RenderError as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return EXIT_INVALID
    except ValueError as exc:  # argparse-level values such as --date
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_UNREADABLE
    except BrokenPipeError:  # `... | head` closed the pipe: nothing left to say
        sys.stderr.close()
        return EXIT_OK
