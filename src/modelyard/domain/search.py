"""Search filters and orderings: MLflow's small SQL-like grammar, parsed into plain values.

A filter is clauses ``<entity>.<key> <op> <value>`` joined by ``AND``; an order_by entry is
``<entity>.<key> [ASC|DESC]``. A :class:`Grammar` says which entities, keys, operators and value
types one search accepts (runs, experiments; the registry defines its own), so every search shares
this tokenizer and parser and gives the same error messages. Parsing never touches storage: the
result is :class:`Comparison` / :class:`OrderBy` values that the storage layer turns into SQL.

Not obvious: quoting. A key with dots or spaces goes in backticks or double quotes
(``tags."mlflow.note"``, ``metrics.`a b```); a value is a single- or double-quoted string, so a
double-quoted token is a key before the operator and a value after it. Inside a quoted string a
doubled quote or a backslash-quote stands for the quote; every other backslash is kept as written,
which lets a LIKE pattern escape ``%`` and ``_`` as ``\\%`` and ``\\_``.

Every refusal is a :class:`SearchSyntaxError`: its message is what the API answers, and it also says
where in the text the problem is (the offending token, and the clause that holds it), for an editor
that highlights it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from modelyard.domain.search_tokens import SearchSyntaxError, Tok, Token, located, tokenize


class Entity(StrEnum):
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


class Kind(StrEnum):
    NUMBER = "number"
    STRING = "string"


Value = int | float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One clause. ``value`` is a number, a string, a tuple of strings (IN) or None (IS NULL)."""

    entity: Entity
    key: str
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class Field:
    """What one key accepts: its value kind and comparators. ``whole`` refuses fractional numbers."""

    kind: Kind
    ops: frozenset[Op]
    whole: bool = False


NUMERIC_OPS = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
TEXT_OPS = frozenset({Op.EQ, Op.NE, Op.LIKE, Op.ILIKE})
KEY_VALUE_OPS = TEXT_OPS | {Op.IS_NULL, Op.IS_NOT_NULL}
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})


@dataclass(frozen=True)
class Grammar:
    """The filter and order_by language of one search.

    ``prefixes`` maps each entity spelling (``metrics``, ``param``, ...) to its entity;
    ``open_keys`` holds entities whose keys the user chooses (metrics, params, tags);
    ``closed_keys`` those with a fixed key set (attributes, datasets). A bare key with no prefix is an
    attribute; ``aliases`` renames attribute keys (``created`` is ``start_time``).
    """

    subject: str
    prefixes: Mapping[str, Entity]
    open_keys: Mapping[Entity, Field]
    closed_keys: Mapping[Entity, Mapping[str, Field]]
    orderable: frozenset[Entity]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def parse_filter(self, text: str | None) -> list[Comparison]:
        if text is None or not text.strip():
            return []
        return _Parser(self, text, "filter").filter()

    def parse_order_by(self, clauses: Sequence[str] | None) -> list[OrderBy]:
        out: list[OrderBy] = []
        seen: dict[tuple[Entity, str], str] = {}
        for clause in clauses or ():
            order = _Parser(self, clause, "order_by").order_by()
            first = seen.get((order.entity, order.key))
            if first is not None:
                raise SearchSyntaxError(
                    f"order_by names {order.entity} '{order.key}' twice ('{first}' and '{clause}'); "
                    "list each field once.",
                    text=clause,
                    start=0,
                    end=len(clause),
                    clause_start=0,
                    clause_end=len(clause),
                )
            seen[(order.entity, order.key)] = clause
            out.append(order)
        return out


def _prefixes(spellings: Mapping[Entity, tuple[str, ...]]) -> dict[str, Entity]:
    return {s: entity for entity, names in spellings.items() for s in names}


_RUN_TEXT = Field(Kind.STRING, TEXT_OPS)
_RUN_TIME = Field(Kind.NUMBER, NUMERIC_OPS)
_DATASET_KEY = Field(Kind.STRING, TEXT_OPS | LIST_OPS)

RUNS = Grammar(
    subject="runs",
    prefixes=_prefixes(
        {
            Entity.METRIC: ("metrics", "metric"),
            Entity.PARAM: ("params", "param", "parameters", "parameter"),
            Entity.TAG: ("tags", "tag"),
            Entity.ATTRIBUTE: ("attributes", "attribute", "attr", "run"),
            Entity.DATASET: ("datasets", "dataset"),
        }
    ),
    open_keys={
        Entity.METRIC: Field(Kind.NUMBER, NUMERIC_OPS),
        Entity.PARAM: Field(Kind.STRING, KEY_VALUE_OPS),
        Entity.TAG: Field(Kind.STRING, KEY_VALUE_OPS),
    },
    closed_keys={
        Entity.ATTRIBUTE: {
            "run_id": Field(Kind.STRING, TEXT_OPS | LIST_OPS),
            "run_name": _RUN_TEXT,
            "status": _RUN_TEXT,
            "user_id": _RUN_TEXT,
            "artifact_uri": _RUN_TEXT,
            "lifecycle_stage": _RUN_TEXT,
            "start_time": _RUN_TIME,
            "end_time": _RUN_TIME,
        },
        Entity.DATASET: {"name": _DATASET_KEY, "digest": _DATASET_KEY, "context": _DATASET_KEY},
    },
    orderable=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG}),
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
)

_EXPERIMENT_TIME = Field(Kind.NUMBER, NUMERIC_OPS, whole=True)

EXPERIMENTS = Grammar(
    subject="experiments",
    prefixes=_prefixes({Entity.ATTRIBUTE: ("attributes", "attribute", "attr"), Entity.TAG: ("tags", "tag")}),
    open_keys={Entity.TAG: Field(Kind.STRING, KEY_VALUE_OPS)},
    closed_keys={
        Entity.ATTRIBUTE: {
            "name": Field(Kind.STRING, TEXT_OPS),
            # Experiment ids are strings on the wire ('1'); storage turns them into integers.
            "experiment_id": Field(Kind.STRING, frozenset({Op.EQ, Op.NE}) | LIST_OPS),
            "creation_time": _EXPERIMENT_TIME,
            "last_update_time": _EXPERIMENT_TIME,
        }
    },
    orderable=frozenset({Entity.ATTRIBUTE}),
)


def parse_filter(text: str | None) -> list[Comparison]:
    """A run search filter, e.g. ``metrics.rmse < 1 and params.model = 'tree'``."""
    return RUNS.parse_filter(text)


def parse_order_by(clauses: Sequence[str] | None) -> list[OrderBy]:
    """Run search ordering, e.g. ``["metrics.rmse DESC", "params.p0"]`` (ascending by default)."""
    return RUNS.parse_order_by(clauses)


def parse_experiment_filter(text: str | None) -> list[Comparison]:
    """An experiment search filter, e.g. ``name LIKE 'prod-%' and tags.team = 'ml'``."""
    return EXPERIMENTS.parse_filter(text)


def parse_experiment_order_by(clauses: Sequence[str] | None) -> list[OrderBy]:
    """Experiment search ordering over attributes, e.g. ``["name ASC", "creation_time DESC"]``."""
    return EXPERIMENTS.parse_order_by(clauses)


_COMPARATORS = {op.value: op for op in NUMERIC_OPS}
_QUOTED_KEY = (Tok.BACKTICK, Tok.DQUOTE)
_QUOTED_VALUE = (Tok.SQUOTE, Tok.DQUOTE)
_INT_RE = re.compile(r"[+-]?\d+")


class _Parser:
    def __init__(self, grammar: Grammar, text: str, what: str) -> None:
        self.g = grammar
        self.text = text
        self.what = what
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers
    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token | None:
        tok = self.peek()
        self.i += tok is not None
        return tok

    def found(self, tok: Token | None) -> str:
        return tok.describe() if tok is not None else f"the end of the {self.what}"

    def at(self, tok: Token | None) -> tuple[int, int]:
        """Where ``tok`` is in the text (an empty span at the end for None)."""
        if tok is None:
            return len(self.text), len(self.text)
        return tok.pos, tok.pos + len(tok.text)

    def since(self, first: Token) -> tuple[int, int]:
        """From ``first`` to the end of the last token taken."""
        last = self.tokens[self.i - 1]
        return first.pos, last.pos + len(last.text)

    def fail(self, message: str, where: tuple[int, int]) -> SearchSyntaxError:
        # an order_by entry is one clause; a filter's clauses are split at its ANDs
        tokens = self.tokens if self.what == "filter" else ()
        return located(f"Invalid {self.what} '{self.text}': {message}", self.text, *where, tokens)

    @staticmethod
    def word(tok: Token | None) -> str:
        return tok.text.upper() if tok is not None and tok.kind is Tok.NAME else ""

    # -- grammar
    def filter(self) -> list[Comparison]:
        clauses = [self.clause()]
        while (tok := self.take()) is not None:
            if self.word(tok) == "OR":
                raise self.fail(
                    f"OR ({tok.describe()}) is not supported; clauses can only be joined with AND. "
                    "Run one search per alternative instead.",
                    self.at(tok),
                )
            if self.word(tok) != "AND":
                raise self.fail(f"expected AND between clauses, found {tok.describe()}.", self.at(tok))
            clauses.append(self.clause())
        return clauses

    def order_by(self) -> OrderBy:
        first = self.peek()
        entity, key, _ = self.identifier()
        if entity not in self.g.orderable:
            names = ", ".join(sorted(e.value for e in self.g.orderable))
            where = self.since(first) if first is not None else self.at(None)
            raise self.fail(f"{self.g.subject} cannot be ordered by a {entity}; order by: {names}.", where)
        ascending = True
        if (tok := self.take()) is not None:
            if self.word(tok) not in ("ASC", "DESC"):
                raise self.fail(
                    f"expected ASC or DESC after the key, found {tok.describe()}. "
                    "Quote keys with spaces in backticks, e.g. `metrics.my metric` DESC.",
                    self.at(tok),
                )
            ascending = self.word(tok) == "ASC"
            if (extra := self.take()) is not None:
                raise self.fail(f"unexpected {extra.describe()} after {tok.text}.", self.at(extra))
        return OrderBy(entity, key, ascending)

    def clause(self) -> Comparison:
        entity, key, spec = self.identifier()
        label = f"{entity} '{key}'"
        first_op = self.peek()
        op = self.operator(label)
        if op not in spec.ops:
            where = self.since(first_op) if first_op is not None else self.at(None)
            raise self.fail(self.bad_operator(op, entity, label, spec), where)
        if op in (Op.IS_NULL, Op.IS_NOT_NULL):
            return Comparison(entity, key, op, None)
        if op in LIST_OPS:
            return Comparison(entity, key, op, self.string_list(op))
        if spec.kind is Kind.NUMBER:
            return Comparison(entity, key, op, self.number(label, spec))
        return Comparison(entity, key, op, self.string(label))

    def identifier(self) -> tuple[Entity, str, Field]:
        tok = self.take()
        if tok is not None and tok.kind is Tok.NAME:
            head, dot, rest = tok.text.partition(".")
            nxt = self.peek()
            if dot:
                return self.resolve(head, rest, tok)
            if nxt is not None and nxt.kind is Tok.DOT:
                self.take()
                key_tok = self.take()
                if key_tok is None or key_tok.kind not in _QUOTED_KEY:
                    raise self.fail(
                        f"expected a key after '{head}.', found {self.found(key_tok)}. "
                        "Quote keys with dots or spaces in backticks or double quotes.",
                        self.at(key_tok),
                    )
                return self.resolve(head, key_tok.value, tok)
            return self.resolve(None, head, tok)
        if tok is not None and tok.kind in _QUOTED_KEY:
            # A whole quoted identifier may still name its entity: "`metrics.my metric` DESC".
            head, dot, rest = tok.value.partition(".")
            if dot and head.lower() in self.g.prefixes:
                return self.resolve(head, rest, tok)
            return self.resolve(None, tok.value, tok)
        raise self.fail(
            f"expected a key such as 'metrics.rmse' or 'tags.\"my key\"', found {self.found(tok)}.",
            self.at(tok),
        )

    def resolve(self, prefix: str | None, key: str, tok: Token) -> tuple[Entity, str, Field]:
        """``tok`` is the identifier's first token; the identifier's tokens have all been taken."""
        entity = Entity.ATTRIBUTE
        if prefix is not None:
            found = self.g.prefixes.get(prefix.lower())
            if found is None:
                valid = ", ".join(sorted(self.g.prefixes))
                raise self.fail(
                    f"unknown entity '{prefix}' in {tok.describe()}; valid entities: {valid}.",
                    self.since(tok),
                )
            entity = found
        if not key:
            raise self.fail(f"empty key at position {tok.pos + 1}.", self.since(tok))
        if entity in self.g.open_keys:
            return entity, key, self.g.open_keys[entity]
        keys = self.g.closed_keys[entity]
        key = self.g.aliases.get(key, key) if entity is Entity.ATTRIBUTE else key
        if key not in keys:
            hint = " (use tags.<key> or metrics.<key> for other keys)" if prefix is None else ""
            raise self.fail(
                f"invalid {entity} key '{key}' in {tok.describe()}; valid keys for {self.g.subject}: "
                f"{', '.join(sorted(keys))}{hint}.",
                self.since(tok),
            )
        return entity, key, keys[key]

    def operator(self, label: str) -> Op:
        tok = self.take()
        word = self.word(tok)
        if tok is not None and tok.kind is Tok.OP:
            if tok.text not in _COMPARATORS:
                raise self.fail(f"invalid comparator {tok.describe()} after {label}.", self.at(tok))
            return _COMPARATORS[tok.text]
        if word in ("LIKE", "ILIKE", "IN"):
            return Op(word)
        if word == "NOT" and self.word(self.peek()) == "IN":
            self.take()
            return Op.NOT_IN
        if tok is not None and word == "IS":
            nxt = self.take()
            if self.word(nxt) == "NULL":
                return Op.IS_NULL
            if self.word(nxt) == "NOT" and self.word(self.take()) == "NULL":
                return Op.IS_NOT_NULL
            raise self.fail(f"expected IS NULL or IS NOT NULL after {label}.", self.since(tok))
        raise self.fail(f"expected a comparator after {label}, found {self.found(tok)}.", self.at(tok))

    def bad_operator(self, op: Op, entity: Entity, label: str, spec: Field) -> str:
        valid = ", ".join(o.value for o in Op if o in spec.ops)
        message = f"comparator '{op}' cannot be used with {label}; valid comparators: {valid}."
        if op in LIST_OPS:
            keys = [k for k, f in self.g.closed_keys.get(entity, {}).items() if op in f.ops]
            if keys:
                message += f" Only {', '.join(keys)} accept{'s' if len(keys) == 1 else ''} a list."
        return message

    def number(self, label: str, spec: Field) -> int | float:
        tok = self.take()
        if tok is None or tok.kind is not Tok.NUMBER:
            raise self.fail(f"expected a number for {label}, found {self.found(tok)}.", self.at(tok))
        if _INT_RE.fullmatch(tok.text):
            return int(tok.text)
        if spec.whole:
            raise self.fail(
                f"{label} takes a whole number (milliseconds), found {tok.describe()}.", self.at(tok)
            )
        return float(tok.text)

    def string(self, label: str) -> str:
        tok = self.take()
        if tok is None or tok.kind not in _QUOTED_VALUE:
            raise self.fail(
                f"expected a quoted string for {label} (e.g. 'my-value'), found {self.found(tok)}. "
                "Quote values in single or double quotes.",
                self.at(tok),
            )
        return tok.value

    def string_list(self, op: Op) -> tuple[str, ...]:
        example = f"{op} ('a', 'b')"
        tok = self.take()
        if tok is None or tok.kind is not Tok.LPAREN:
            raise self.fail(
                f"{op} takes a parenthesised list like {example}, found {self.found(tok)}.", self.at(tok)
            )
        values: list[str] = []
        while True:
            tok = self.take()
            if tok is None or tok.kind not in _QUOTED_VALUE:
                raise self.fail(
                    f"{op} takes a non-empty list of quoted strings like {example}, found {self.found(tok)}.",
                    self.at(tok),
                )
            values.append(tok.value)
            tok = self.take()
            if tok is not None and tok.kind is Tok.RPAREN:
                return tuple(values)
            if tok is None or tok.kind is not Tok.COMMA:
                raise self.fail(
                    f"expected ',' or ')' in the {op} list, found {self.found(tok)}.", self.at(tok)
                )
