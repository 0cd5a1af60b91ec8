"""Small helpers shared by services: clock, ids, page tokens, friendly names."""

from __future__ import annotations

import base64
import binascii
import random
import time
import uuid

import orjson

from modelyard.domain.errors import InvalidParameter

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "daring", "eager", "gentle", "keen",
    "lively", "lucid", "merry", "nimble", "quiet", "rapid", "sunny", "swift", "tidy", "vivid",
)  # fmt: skip
_NOUNS = (
    "badger", "crane", "dolphin", "falcon", "fox", "gecko", "heron", "ibis", "koala", "lynx",
    "marten", "otter", "owl", "panda", "quail", "raven", "seal", "tern", "wolf", "yak",
)  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return uuid.uuid4().hex


def friendly_name() -> str:
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(100, 999)}"


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for; tokens are opaque to clients."""
    if not token:
        return 0
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidParameter(f"Invalid page token '{token}': it was not issued by this server.") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidParameter(f"Invalid page token '{token}': it was not issued by this server.")
    return offset


def check_max_results(value: int | None, *, default: int, maximum: int, name: str = "max_results") -> int:
    if value is None:
        return default
    if value <= 0 or value > maximum:
        raise InvalidParameter(
            f"Invalid value {value} for parameter '{name}' supplied. It must be between 1 and {maximum}."
        )
    return value
