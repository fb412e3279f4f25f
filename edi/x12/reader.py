"""Turn X12 bytes or text into segments, a chunk at a time.

Partners disagree about almost everything outside the data: byte-order marks, CR/LF and
indentation after terminators, a newline as the only terminator, no terminator on the last
segment, an ISA padded to 106 characters or not, `|` instead of `*`. The delimiters are therefore
read from the ISA itself (or guessed from a bare GS/ST), and the text is split chunk by chunk so a
100 MB interchange never sits in memory whole: only the current chunk and the segments the caller
has not consumed yet are alive.

The hot path is `str.split` on the segment terminator, then on the element separator, driven by
`map` so no bytecode runs per segment. Per character, Python looks once, at the ISA; per chunk,
two searches in C look for padded elements and for later ISAs.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import IO

from .errors import Position, Problem, ProblemCode, ReadError, Severity

CHUNK_CHARS = 1 << 15
"""Characters read per chunk: enough that the per-chunk work is noise, few enough that the lists and
strings one chunk splits into (some twenty times its size) are still in the CPU cache when the
parser reads them; 1 MB chunks made a whole parse about 8% slower."""

_DETECT_LIMIT = 8192
"""How far to look for a start (ISA, GS or ST) or for the ISA's sixteenth separator."""

ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
"""The width the standard fixes for each ISA element (ISA01 to ISA16): 106 characters with the
terminator. Partners who trim the padding are read all the same; `validate` names them."""

Source = str | bytes | bytearray | IO[str] | IO[bytes]
"""Text, bytes, or an open file object (text or binary). Paths are opened by `parse_file`."""


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four characters that give X12 its structure; the repetition one exists from 00402 on."""

    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None

    def characters(self) -> tuple[str, ...]:
        chars = (self.element, self.component, self.segment)
        return chars if self.repetition is None else (*chars, self.repetition)


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment with its place in the file (ISA is segment 1)."""

    number: int
    elements: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.elements[0]

    def element(self, index: int) -> str:
        """Element `index` (1-based), or "" when the segment is shorter: X12 drops trailing empties."""
        return self.elements[index] if index < len(self.elements) else ""


def _isa_delimiters(text: str, at_eof: bool) -> Delimiters | None:
    """Delimiters from an ISA at the start of `text`, fixed-width or not; None means "read more"."""
    sep = text[3]
    if sep.isalnum() or sep.isspace():
        raise ReadError("no-delimiters", f"ISA element separator {sep!r} is a letter, digit or space")
    index = 3
    for _ in range(15):
        index = text.find(sep, index + 1)
        if index < 0:
            if at_eof or len(text) > _DETECT_LIMIT:
                raise ReadError("no-delimiters", "the ISA segment does not have 16 elements")
            return None
    if index + 2 >= len(text) and not at_eof:
        return None
    component = text[index + 1] if index + 1 < len(text) else ">"
    terminator = text[index + 2] if index + 2 < len(text) else "~"
    if component == sep or terminator in (sep, component) or terminator.isalnum() or terminator == " ":
        raise ReadError(
            "no-delimiters",
            f"the ISA gives unusable delimiters: element {sep!r}, component {component!r}, segment {terminator!r}",
        )
    elements = text[:index].split(sep)
    repetition: str | None = None
    isa11, isa12 = elements[11].strip(), elements[12].strip()
    if len(isa11) == 1 and not isa11.isalnum() and isa12 >= "00402" and isa11 not in (sep, component, terminator):
        repetition = isa11
    return Delimiters(sep, component, terminator, repetition)


def _guessed_delimiters(text: str, id_length: int, at_eof: bool) -> Delimiters | None:
    """Delimiters for a bare GS or ST: the separator follows the id, the terminator ends the segment."""
    sep = text[id_length]
    if sep.isalnum() or sep.isspace():
        raise ReadError("no-delimiters", f"element separator {sep!r} after {text[:id_length]} is not usable")
    for char in text[id_length + 1 : _DETECT_LIMIT]:
        if not (char.isalnum() or char == sep or char in " .-"):
            component = ">" if char != ">" and sep != ">" else ":"
            return Delimiters(sep, component, char, None)
    if not at_eof and len(text) < _DETECT_LIMIT:
        return None
    return Delimiters(sep, ">" if sep != ">" else ":", "\n", None)


def detect_delimiters(text: str, at_eof: bool = True) -> Delimiters | None:
    """Delimiters of the X12 data starting at `text` (already stripped of BOM and whitespace)."""
    if len(text) < 4:
        if at_eof:
            raise ReadError("not-x12", "the input is empty or too short to be X12")
        return None
    if text.startswith("ISA"):
        return _isa_delimiters(text, at_eof)
    if text.startswith("GS") or text.startswith("ST"):
        return _guessed_delimiters(text, 2, at_eof)
    raise ReadError("not-x12", f"the input does not start with ISA, GS or ST: {text[:20]!r}")


_CP1252 = "".join(bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(256))
"""Windows-1252 as a decoding table, its five unassigned bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) read
as the Latin-1 control characters of the same number, as browsers do: every byte is something."""


class _Decoder:
    """UTF-8, which a byte-order mark declares and most partners send; from the first byte that
    is not UTF-8 on, Windows-1252 (cp1252), with a note saying where.

    Files that are not UTF-8 come from Windows tools, where 0x93 and 0x94 are curly quotes;
    reading them as Latin-1 turned those into control characters. Windows-1252 is Latin-1 with
    printable characters in 0x80-0x9F, so Latin-1 files read the same. The switch happens at a
    byte, not at a chunk, so what is read never depends on how the input was cut.
    """

    def __init__(self, notes: list[Problem]) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._cp1252 = False
        self._notes = notes
        self._offset = 0
        """Bytes fed to the UTF-8 decoder before the current call (some may be pending in it)."""

    def decode(self, data: bytes, final: bool = False) -> str:
        if self._cp1252:
            return codecs.charmap_decode(data, "strict", _CP1252)[0]
        try:
            text = self._utf8.decode(data, final)
        except UnicodeDecodeError:
            pending, _ = self._utf8.getstate()
            data = pending + data
            start = self._offset - len(pending)
            try:
                data.decode("utf-8")
                bad = len(data)  # pragma: no cover - the incremental decoder just refused it
            except UnicodeDecodeError as exc:
                bad = exc.start
            self._cp1252 = True
            self._notes.append(
                Problem(
                    ProblemCode.NOT_UTF8,
                    f"the file is not UTF-8 (byte {start + bad}: {data[bad:bad + 1]!r}); "
                    "read as Windows-1252 from there on",
                    Position(0, ""),
                    Severity.NOTE,
                )
            )
            return data[:bad].decode("utf-8") + codecs.charmap_decode(data[bad:], "strict", _CP1252)[0]
        self._offset += len(data)
        return text


def _text_chunks(source: Source, chunk_chars: int, notes: list[Problem]) -> Iterator[str]:
    """The source as non-empty text chunks (an empty one means the end).

    Bytes are decoded incrementally, so no chunk splits a character.
    """
    for chunk in _decoded(source, chunk_chars, notes):
        if chunk:
            yield chunk


def _decoded(source: Source, chunk_chars: int, notes: list[Problem]) -> Iterator[str]:
    if isinstance(source, str):
        for start in range(0, len(source), chunk_chars):
            yield source[start : start + chunk_chars]
        return
    decoder = _Decoder(notes)
    if isinstance(source, bytes | bytearray):
        view = memoryview(source)
        for start in range(0, len(view), chunk_chars):
            yield decoder.decode(bytes(view[start : start + chunk_chars]))
        yield decoder.decode(b"", final=True)
        return
    while True:
        try:
            data = source.read(chunk_chars)
        except (OSError, ValueError) as exc:
            raise ReadError("unreadable", f"cannot read the input: {exc}") from exc
        if not data:
            if not isinstance(data, str):
                yield decoder.decode(b"", final=True)
            return
        yield data if isinstance(data, str) else decoder.decode(data)


def _isa_indexes(batch: list[list[str]], mentions: int) -> list[int]:
    """Where segments starting with ISA are in `batch`, found in C when every mention is an ISA id."""
    ids = list(map(itemgetter(0), batch))
    exact = ids.count("ISA")
    if exact == mentions:
        found, start = [], 0
        for _ in range(exact):
            start = ids.index("ISA", start) + 1
            found.append(start - 1)
        return found
    return [index for index, sid in enumerate(ids) if sid.startswith("ISA")]


def _loose_isa(elements: list[str], number: int) -> Problem | None:
    """A warning naming the first element of a 16-element ISA that is not the width the standard
    fixes; None for a fixed-width one (an ISA with another count is the envelope's error)."""
    if len(elements) != 17:
        return None
    for index, width in enumerate(ISA_WIDTHS, start=1):
        value = elements[index]
        if len(value) != width:
            return Problem(ProblemCode.ISA_NOT_FIXED_WIDTH,
                           f"the ISA is not fixed width: ISA{index:02d} {value!r} is {len(value)} characters, "
                           f"the standard fixes {width}", Position(number, "ISA", index), Severity.WARNING, value)
    return None


def _raw_from(pieces: list[str], index: int) -> list[str]:
    """The unsplit pieces from the `index`-th non-blank one: the exact text, whitespace included."""
    for position, piece in enumerate(pieces):
        if piece.strip():
            if index == 0:
                return pieces[position:]
            index -= 1
    return []


class SegmentReader:
    """Iterates the raw segments of X12 data as lists of elements (element 0 is the segment id).

    Lists rather than `Segment` objects because this is the inner loop of everything: the parser
    counts segments itself. Trailing spaces inside elements are dropped (partners pad them);
    `delimiters` is the set in force for the segment most recently yielded, and `notes` collects
    what the reader tolerated (a non-UTF-8 file, text before the ISA).
    """

    def __init__(self, source: Source, chunk_chars: int = CHUNK_CHARS) -> None:
        self.notes: list[Problem] = []
        self.delimiters = Delimiters()
        self._chunks = _text_chunks(source, chunk_chars, self.notes)
        self._yielded = 0

    def _read(self) -> str:
        return next(self._chunks, "")

    def _start(self) -> str:
        """Read until the delimiters are known; returns the text from the first segment on."""
        buf = ""
        skipped = 0
        while True:
            chunk = self._read()
            at_eof = not chunk
            buf += chunk
            text = buf.lstrip("\ufeff \t\r\n")
            if not text.startswith(("ISA", "GS", "ST")):
                found = text.find("ISA", 0, _DETECT_LIMIT)
                if found > 0:
                    skipped += found
                    buf = text = text[found:]
                elif not at_eof and len(text) < _DETECT_LIMIT:
                    continue
            delimiters = detect_delimiters(text, at_eof)
            if delimiters is not None:
                if skipped:  # first: it is about the file's first characters, whatever was decoded since
                    self.notes.insert(0, Problem(ProblemCode.NO_ENVELOPE, f"skipped {skipped} characters before the ISA",
                                                 Position(0, ""), Severity.WARNING))
                self.delimiters = delimiters
                return text
            if at_eof:  # pragma: no cover - detect_delimiters raises or answers at EOF
                raise ReadError("not-x12", "no delimiters found")

    def _later_isa(self, tail: str) -> tuple[Delimiters | None, str]:
        """New delimiters announced by an ISA at the start of `tail`, or None to keep the current ones.

        Also returns any text read past the current buffer to see the whole ISA. A later ISA too
        damaged to give delimiters keeps the ones in force: the envelope checks will report it,
        and the rest of the file is still worth reading.
        """
        extra = ""
        at_eof = False
        while True:
            try:
                found = detect_delimiters(tail + extra, at_eof)
            except ReadError:
                return None, extra
            if found is not None:
                return (None if found == self.delimiters else found), extra
            chunk = self._read()
            at_eof = not chunk
            extra += chunk

    def batches(self) -> Iterator[list[list[str]]]:
        """Segments a chunk at a time: one `split` per chunk, then one per segment, in C."""
        buf = self._start()
        first_isa = True
        while True:
            delimiters = self.delimiters
            term, sep = delimiters.segment, delimiters.element
            padded = " " + sep
            restart = False
            while not restart:
                pieces = buf.split(term)
                text = buf
                buf = pieces.pop()
                if padded in text:
                    kept = [piece for piece in map(str.strip, pieces) if piece]
                    batch = [piece.split(sep) if padded not in piece else [e.rstrip(" ") for e in piece.split(sep)]
                             for piece in kept]
                else:
                    # The same as the comprehension above without its padding test, entirely in C.
                    kept = None
                    batch = list(map(str.split, filter(None, map(str.strip, pieces)), repeat(sep)))
                if "ISA" in text:
                    for index in _isa_indexes(batch, text.count("ISA")):
                        segment = batch[index]
                        if not first_isa and not (segment[0] == "ISA" and len(segment) == 17
                                                  and segment[16] == delimiters.component):
                            tail = (term.join(_raw_from(pieces, index)) + term + buf).lstrip()
                            new, extra = self._later_isa(tail)
                            if new is not None:
                                self.delimiters, buf, restart = new, tail + extra, True
                                batch = batch[:index]
                                break
                            buf += extra
                        first_isa = False
                        if segment[0] == "ISA":
                            self._note_width(segment if kept is None else kept[index].split(sep), index)
                if batch:
                    self._yielded += len(batch)
                    yield batch
                if restart:
                    break
                chunk = self._read()
                if not chunk:
                    last = buf.strip()
                    if last:
                        elements = last.split(sep)
                        if elements[0] == "ISA":
                            self._note_width(elements, 0)
                        yield [[element.rstrip(" ") for element in elements]]
                    return
                if term not in chunk:
                    # A segment longer than a chunk (or text with no terminator at all): gather up
                    # to the next terminator or the end, so it is split once, not once per chunk.
                    parts = [buf, chunk]
                    while chunk and term not in chunk:
                        chunk = self._read()
                        parts.append(chunk)
                    buf = "".join(parts)
                else:
                    buf += chunk

    def _note_width(self, elements: list[str], index: int) -> None:
        """A warning for an ISA (its elements as written) that is not fixed width; `index` is its
        place in the batch about to be yielded."""
        problem = _loose_isa(elements, self._yielded + index + 1)
        if problem is not None:
            self.notes.append(problem)

    def __iter__(self) -> Iterator[list[str]]:
        for batch in self.batches():
            yield from batch


def iter_segments(source: Source, chunk_chars: int = CHUNK_CHARS) -> Iterator[Segment]:
    """Segments of X12 data with their numbers; for tools and tests, the parser uses `SegmentReader`."""
    for number, elements in enumerate(SegmentReader(source, chunk_chars), start=1):
        yield Segment(number, tuple(elements))
