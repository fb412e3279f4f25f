"""Finding documents by what people remember: any part of an invoice number, a client or
vendor name, a file name or an external id ("1002" finds DS-1002).

Every such word is in the document's `search_text`, lower-cased, so a search is one
`LIKE '%word%'` per word (all must match) on one column. On PostgreSQL a pg_trgm GIN index
(migration 0006) answers it without reading the table; on SQLite a plain LIKE is enough.
A word of one or two characters has no trigram to look up (and matches half of everything
as a part): it is left out of the search, and a search of only such words finds nothing and
says why, instead of reading the whole table.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils.text import smart_split, unescape_string_literal

# Shorter words have no trigram: they are left out.
MIN_PARTIAL = 3
MAX_WORDS = 8


def search_words(term: str) -> list[str]:
    """The words of a search box, quotes honoured ("harbor supply" is one word), lower-cased."""
    words = []
    for bit in smart_split(term or ""):
        if bit[:1] in ('"', "'") and bit[-1:] == bit[:1]:
            bit = unescape_string_literal(bit)
        bit = bit.strip().lower()
        if bit and bit not in words:
            words.append(bit)
    return words[:MAX_WORDS]


def too_short(term: str) -> bool:
    """A search none of whose words is long enough to search by."""
    words = search_words(term)
    return bool(words) and all(len(word) < MIN_PARTIAL for word in words)


def documents_matching(queryset: QuerySet, term: str) -> QuerySet:
    """The documents of `queryset` whose search words contain every word of `term` (of at
    least MIN_PARTIAL characters); none when `term` has no such word."""
    words = [word for word in search_words(term) if len(word) >= MIN_PARTIAL]
    if not words:
        return queryset.none()
    for word in words:
        queryset = queryset.filter(search_text__contains=word)
    return queryset
