"""Finding documents by what people remember: any part of an invoice number, a client or
vendor name, a file name or an external id ("1002" finds DS-1002).

Every such word is in the document's `search_text`, lower-cased, so a search is one
`LIKE '%word%'` per word (all must match) on one column. On PostgreSQL a pg_trgm GIN index
(migration 0006) answers it without reading the table; on SQLite a plain LIKE is enough.
A word of one or two characters has no trigram of its own: it must then match a whole
value ("| 12 |"), whose padded trigrams the index does hold, so it never scans the table.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils.text import smart_split, unescape_string_literal

from .summary import SEPARATOR

# Shorter words have no trigram: they are matched whole instead.
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


def documents_matching(queryset: QuerySet, term: str) -> QuerySet:
    """The documents of `queryset` whose search words contain every word of `term`."""
    for word in search_words(term):
        if len(word) >= MIN_PARTIAL:
            queryset = queryset.filter(search_text__contains=word)
        else:
            queryset = queryset.filter(search_text__contains=f"{SEPARATOR}{word}{SEPARATOR}")
    return queryset
