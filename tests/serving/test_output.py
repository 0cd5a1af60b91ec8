"""What a replica writes to its log: every line with its time (also lines written in pieces, and
several at once), and the requests it refused, without letting a flood of bad requests flood the log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from modelyard.serving.error_log import ErrorLog
from modelyard.serving.output import STAMP, StampedWriter, stamp, unstamped


def test_stamp_is_utc_with_milliseconds() -> None:
    assert stamp(0) == "1970-01-01T00:00:00.000Z"
    assert stamp(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    assert unstamped(f"{stamp()} hello") == "hello"
    assert unstamped("no time here") == "no time here"


def test_every_line_gets_the_time_of_its_first_character(tmp_path: Path) -> None:
    path = tmp_path / "replica.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        out = StampedWriter(fd)
        out.write("loading ")
        out.write("model\nready\nserving")  # a line in two pieces, a whole one, one left open
        assert path.read_text().count("\n") == 2  # the open line waits for its end
        out.write(" on port 1\n")
        out.write("")
        out.write("no newline yet")
        out.flush()  # at exit: what is left is written as a line
    finally:
        os.close(fd)
    lines = path.read_text().splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert [unstamped(line) for line in lines] == [
        "loading model",
        "ready",
        "serving on port 1",
        "no newline yet",
    ]


def test_request_errors_are_logged_at_most_burst_a_window(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    logger = logging.getLogger("modelyard.serving.test")
    errors = ErrorLog(logger, window_s=10.0, burst=2, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="modelyard.serving.test"):
        for i in range(5):
            errors.record("POST", "/invocations", 400, f"missing column 'x{i}'\nsecond line")
        now[0] += 10.0
        errors.record("POST", "/v2/models/m/infer", 500, "the model failed while predicting: boom")
        errors.record("POST", "/invocations", 400, "bad")
        errors.record("POST", "/invocations", 400, "bad again")
        errors.close()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "POST /invocations -> 400: missing column 'x0' second line"),
        ("WARNING", "POST /invocations -> 400: missing column 'x1' second line"),
        ("WARNING", "3 more request error(s) in 10 s were not logged (at most 2 a window)"),
        ("ERROR", "POST /v2/models/m/infer -> 500: the model failed while predicting: boom"),
        ("WARNING", "POST /invocations -> 400: bad"),
        ("WARNING", "1 more request error(s) in 10 s were not logged (at most 2 a window)"),
    ]
