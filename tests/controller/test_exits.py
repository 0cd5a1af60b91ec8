"""Why a replica's process ended, in words: exit codes, signals, and the out-of-memory killer, whose
kills are counted per memory cgroup (v1 and v2) and for the whole machine (files laid out as the
kernel lays them out)."""

from __future__ import annotations

from pathlib import Path

from modelyard.controller.backends.local.exits import describe, oom_counter, oom_kills


def _proc(tmp_path: Path, cgroup: str, vmstat: str | None = "nr_free_pages 10\noom_kill 7\n") -> Path:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(cgroup)
    if vmstat is not None:
        (proc / "vmstat").write_text(vmstat)
    return proc


def test_cgroup_v2_memory_events(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/system.slice/modelyard.service\n")
    events = tmp_path / "cg" / "system.slice" / "modelyard.service" / "memory.events"
    events.parent.mkdir(parents=True)
    events.write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n")
    path = oom_counter(42, proc=proc, cgroup_root=tmp_path / "cg")
    assert path == events and oom_kills(path) == 1
    events.write_text("low 0\nhigh 0\nmax 5\noom 3\noom_kill 2\noom_group_kill 0\n")
    assert oom_kills(path) == 2


def test_cgroup_v1_memory_oom_control(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "9:name=systemd:/\n4:memory:/process_api/abc\n3:cpuset:/\n")
    control = tmp_path / "cg" / "memory" / "process_api" / "abc" / "memory.oom_control"
    control.parent.mkdir(parents=True)
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    path = oom_counter(42, proc=proc, cgroup_root=tmp_path / "cg")
    assert path == control and oom_kills(path) == 3


def test_the_whole_machine_where_no_cgroup_counts(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/\n")  # no memory.events under the (missing) cgroup root
    path = oom_counter(42, proc=proc, cgroup_root=tmp_path / "cg")
    assert path == proc / "vmstat" and oom_kills(path) == 7
    bare = _proc(tmp_path / "bare", "0::/\n", vmstat=None)
    assert oom_counter(42, proc=bare, cgroup_root=tmp_path / "cg") is None
    assert oom_kills(None) is None


def test_exits_in_words() -> None:
    assert describe(3) == "exited with code 3"
    assert describe(0) == "exited with code 0"
    assert describe(-11) == "was killed by SIGSEGV"
    assert (
        describe(None)
        == "exited (its exit code is unknown to this server: it did not start the process itself)"
    )
    outside = "was killed by SIGKILL from outside modelyard (kill -9, or the out-of-memory killer)"
    assert describe(-9) == outside
    assert describe(-9, oom_before=4, oom_after=4) == outside
    assert describe(-9, oom_before=4, oom_after=5) == (
        "was killed by the kernel's out-of-memory killer (SIGKILL): the machine ran out of memory for "
        "it; give it more memory or run fewer replicas"
    )
