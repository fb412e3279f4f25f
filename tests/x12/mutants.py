"""A seeded mutator of X12 bytes: damaged partner files for the no-crash test.

Each mutant is one of the real partner samples with one to four edits: a byte replaced, a token
inserted (delimiters, envelope ids, digits that `str.isdigit` accepts and `int()` refuses,
exponents that overflow Decimal, Windows-1252 quotes, a BOM), a run deleted, the tail cut, or a
piece of another sample spliced in. A fixed seed makes the same mutants on every run, so a failure
reproduces; `python -m tests.x12.mutants ROUNDS [SEED]` runs a longer campaign by hand.
"""

from __future__ import annotations

import random
import sys
import traceback
from collections.abc import Callable, Iterator

TOKENS = (
    b"~", b"*", b">", b"^", b"|", b":", b"\n", b"\r\n", b" ", b"-", b".", b"0", b"9", b"ISA", b"GS", b"ST", b"SE",
    b"GE", b"IEA", b"IT1*1*2*EA*3", b"TDS*", b"\xb2", b"\xb9", "²".encode(), "٣".encode(), b"1E2896035",
    b"E999999", b"E-999999", b"9" * 5000, b"NaN", b"Infinity", b"\x93", b"\x94", b"\x81", b"\x00", b"\xef\xbb\xbf",
)
"""What an edit inserts or writes over a byte: structure, and the values that once raised."""


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    mutant = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(mutant) + 1)
        edit = rng.randrange(6)
        if edit == 0 and mutant:
            mutant[min(at, len(mutant) - 1)] = rng.randrange(256)
        elif edit == 1:
            mutant[at:at] = rng.choice(TOKENS)
        elif edit == 2:
            del mutant[at : at + rng.randint(1, 40)]
        elif edit == 3:
            del mutant[at:]
        elif edit == 4:
            other = rng.choice(corpus)
            start = rng.randrange(len(other))
            mutant[at:at] = other[start : start + rng.randint(1, 200)]
        elif mutant:
            mutant[min(at, len(mutant) - 1)] = rng.choice(TOKENS)[0]
    return bytes(mutant)


def mutants(bases: list[bytes], corpus: list[bytes], *, seed: int, rounds: int) -> Iterator[bytes]:
    """`rounds` mutants of `bases`, splicing in pieces of `corpus`."""
    rng = random.Random(seed)
    for _ in range(rounds):
        yield mutate(rng, rng.choice(bases), corpus)


def campaign(check: Callable[[bytes], None], bases: list[bytes], corpus: list[bytes], *, seed: int,
             rounds: int) -> dict[str, bytes]:
    """Every distinct place `check` raised, with the smallest mutant that got there."""
    found: dict[str, bytes] = {}
    for mutant in mutants(bases, corpus, seed=seed, rounds=rounds):
        try:
            check(mutant)
        except Exception as exc:  # noqa: BLE001 - collecting them is the point
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{type(exc).__name__} at {frame.filename}:{frame.lineno} in {frame.name}"
            if where not in found or len(mutant) < len(found[where]):
                found[where] = mutant
    return found


if __name__ == "__main__":  # pragma: no cover - a longer run by hand
    from tests.x12.test_any_input import corpus, survives

    rounds, seed = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 14
    samples = corpus()
    for where, mutant in campaign(survives, samples, samples, seed=seed, rounds=rounds).items():
        print(where, mutant)
