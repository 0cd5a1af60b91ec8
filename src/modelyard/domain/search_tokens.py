"""The search grammar's tokenizer and its located refusals (``domain/search.py`` parses the tokens).

``tokenize`` turns a filter or order_by entry into tokens that keep their character offsets;
``SearchSyntaxError`` is the refusal that says where: the offending token and the clause around it,
so a filter box can mark them. Its messages are the MLflow API's (an ``InvalidParameter``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from modelyard.domain.errors import InvalidParameter


class SearchSyntaxError(InvalidParameter):
    """A filter or order_by entry the grammar refuses, and where.

    Offsets are character offsets into ``text`` (0-based, ``end`` exclusive). ``start``/``end`` mark
    the offending token (an empty span at the end when the text ended too early);
    ``clause_start``/``clause_end`` the clause that holds it: the text between the ``AND`` before it
    and the one after it, without surrounding spaces (the whole entry, for an order_by entry).
    """

    def __init__(
        self, message: str, *, text: str, start: int, end: int, clause_start: int, clause_end: int
    ) -> None:
        super().__init__(message)
        self.text = text
        self.start = start
        self.end = end
        self.clause_start = clause_start
        self.clause_end = clause_end

    @property
    def clause(self) -> str:
        return self.text[self.clause_start : self.clause_end]


class Tok(Enum):
    NAME = "name"  # a word, or dotted words: status, metrics.m0, tags.mlflow.runName
    BACKTICK = "backtick"  # `a key`
    DQUOTE = "dquote"  # "a key or a value"
    SQUOTE = "squote"  # 'a value'
    NUMBER = "number"
    OP = "op"
    DOT = "dot"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    text: str  # as written
    value: str  # quotes removed and unescaped, for quoted tokens
    pos: int

    def describe(self) -> str:
        shown = self.text if self.kind in (Tok.SQUOTE, Tok.DQUOTE, Tok.BACKTICK) else f"'{self.text}'"
        return f"{shown} at position {self.pos + 1}"


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<backtick>`[^`]*`)
    |(?P<dquote>"(?:[^"\\]|\\.|"")*")
    |(?P<squote>'(?:[^'\\]|\\.|'')*')
    |(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
    |(?P<name>[^\W\d]\w*(?:\.\w+)*)
    |(?P<dot>\.)
    |(?P<op>[<>=!]+)
    |(?P<lparen>\()
    |(?P<rparen>\))
    |(?P<comma>,)
    """,
    re.VERBOSE,
)
_TOKEN_END_RE = re.compile(r"[\s()<>=!,'\"`]")
_KINDS = {
    "backtick": Tok.BACKTICK,
    "dquote": Tok.DQUOTE,
    "squote": Tok.SQUOTE,
    "number": Tok.NUMBER,
    "name": Tok.NAME,
    "dot": Tok.DOT,
    "op": Tok.OP,
    "lparen": Tok.LPAREN,
    "rparen": Tok.RPAREN,
    "comma": Tok.COMMA,
}


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body
    return body.replace(quote * 2, quote).replace("\\" + quote, quote)


def _is_and(tok: Token) -> bool:
    return tok.kind is Tok.NAME and tok.text.upper() == "AND"


def located(message: str, text: str, start: int, end: int, tokens: Sequence[Token]) -> SearchSyntaxError:
    """The error, with the clause around ``start``: the text between the ANDs among ``tokens`` before
    and after it."""
    low, high = 0, len(text)
    for tok in tokens:
        if _is_and(tok):
            if tok.pos + len(tok.text) <= start:
                low = max(low, tok.pos + len(tok.text))
            elif tok.pos > start:
                high = min(high, tok.pos)
    while low < high and text[low].isspace():
        low += 1
    while high > low and text[high - 1].isspace():
        high -= 1
    return SearchSyntaxError(message, text=text, start=start, end=end, clause_start=low, clause_end=high)


def _lenient_tokens(text: str, pos: int) -> list[Token]:
    """The tokens from ``pos`` on, skipping what does not tokenize (only to find the ANDs)."""
    tokens = []
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            pos += 1
            continue
        if match.lastgroup == "name":
            tokens.append(Token(Tok.NAME, match.group(), match.group(), pos))
        pos = match.end()
    return tokens


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "'\"`":
                raise located(
                    f"Unterminated quote {char} at position {pos + 1} in '{text}': close every quoted "
                    "key or value.",
                    text,
                    pos,
                    len(text),
                    tokens,
                )
            # the clause runs to the next AND: read on past the bad character to find it
            rest = [*tokens, *_lenient_tokens(text, pos + 1)]
            if char in "0123456789+-.":
                message = f"Malformed number at position {pos + 1} in '{text}'."
                end = _TOKEN_END_RE.search(text, pos + 1)
                raise located(message, text, pos, end.start() if end else len(text), rest)
            message = f"Unexpected character '{char}' at position {pos + 1} in '{text}'."
            raise located(message, text, pos, pos + 1, rest)
        group = str(match.lastgroup)  # every alternative is a named group
        if group != "ws":
            raw = match.group()
            value = _unquote(raw) if group in ("backtick", "dquote", "squote") else raw
            tokens.append(Token(_KINDS[group], raw, value, pos))
        pos = match.end()
    return tokens


# ---- parser -------------------------------------------------------------------------------------
