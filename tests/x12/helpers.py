"""Shared test data for edi.x12: where the partner samples are, and a small valid interchange."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Real partner files, copied into the repository with their sources and licences (SOURCES.txt).
SAMPLES = REPO / "tests" / "fixtures" / "x12-samples"
SAMPLE_COUNT = 8


def sample_paths() -> list[Path]:
    """The corpus, failing loudly when it is missing: a parametrized test over an empty list
    would pass by collecting nothing."""
    paths = sorted(SAMPLES.glob("[0-9]*"))
    if len(paths) != SAMPLE_COUNT:
        raise FileNotFoundError(f"expected {SAMPLE_COUNT} partner samples in {SAMPLES}, found {len(paths)}")
    return paths


def sample(name: str) -> Path:
    return SAMPLES / name


# A minimal, valid 4010 interchange: two lines (2 x 10.50 + 1 x 5 = 26.00), CTT, counts right.
VALID_4010 = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240102*1200*U*00401*000000042*0*T*>~\n"
    "GS*IN*SENDER*RECEIVER*20240102*1200*7*X*004010~\n"
    "ST*810*0001~\n"
    "BIG*20240102*INV-1*20231220*PO-9~\n"
    "CUR*SE*USD~\n"
    "N1*BT*BUYER INC*92*B1~\n"
    "N1*RE*SELLER LLC*92*S1~\n"
    "ITD*01*3*****30~\n"
    "IT1*1*2*EA*10.50**VP*SKU-1~\n"
    "PID*F****WIDGET~\n"
    "IT1*2*1*EA*5**VP*SKU-2~\n"
    "TDS*2600~\n"
    "CTT*2~\n"
    "SE*12*0001~\n"
    "GE*1*7~\n"
    "IEA*1*000000042~\n"
)


def edit(text: str, old: str, new: str) -> str:
    """`text` with exactly one `old` replaced, failing loudly if the test's premise is wrong."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)
