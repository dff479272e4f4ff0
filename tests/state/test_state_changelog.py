"""The local backend's change log (issue 16): O(changes) writes while locked, replay, torn records, compaction."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from lorainfra.errors import StateError
from lorainfra.state import changelog
from lorainfra.state import local as local_mod
from lorainfra.state.backend import DamagedStateError
from lorainfra.state.local import LocalBackend
from lorainfra.state.model import PendingOp, ResourceState, State


def res(i: int, **attrs: object) -> ResourceState:
    return ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"accounts/a/deployedModels/l{i}",
                         attributes=attrs)


def pending(i: int) -> PendingOp:
    return PendingOp(address=f"lora.l{i}", operation="create", kind="lora", identity={"model": f"m{i}"})


def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "s" / "state.json", who="tester")


def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "s" / "state.json", tmp_path / "s" / "state.json.log"


def test_locked_writes_append_changes_and_release_folds_them_into_the_document(tmp_path: Path) -> None:
    doc, log = files(tmp_path)
    state = backend(tmp_path).write(State.new("lin").with_resource(res(0)), operation="apply")
    b = backend(tmp_path)  # a new run
    with b.lock("apply"):
        first = b.write(state, operation="apply")  # the first write of the session rewrites the document
        before = doc.read_text()
        assert before == first.dumps() and not log.exists()
        state = first
        for i in range(1, 6):
            state = b.write(state.with_pending(pending(i)).with_resource(res(i)).without_resource("lora.l0"),
                            operation="apply")
        assert doc.read_text() == before  # not rewritten: the versions are records in the log
        assert len(log.read_text().splitlines()) == 1 + 5  # header + one record per write
        assert backend(tmp_path).read() == state  # another reader sees the latest version
    assert not log.exists() and doc.read_text() == state.dumps()  # released: folded, same serial
    assert backend(tmp_path).read() == state
    assert [h.serial for h in b.history()] == [1, 2, state.serial]  # the versions before and the folded one
    assert b.read_serial(first.serial) == first


def test_a_torn_last_record_is_ignored_and_the_next_writer_folds_the_log(tmp_path: Path) -> None:
    b = backend(tmp_path)
    doc, log = files(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        kept = state = b.write(state.with_resource(res(1)))
        state = b.write(state.with_resource(res(2)))
        text = log.read_bytes()
        torn = text[: len(text) - 7]  # the last record lost its end (a crash during the append)
        saved_doc = doc.read_bytes()
    doc.write_bytes(saved_doc)  # the crash left the files as they were then (no fold at release)
    log.write_bytes(torn)
    fresh = backend(tmp_path)
    assert fresh.read() == kept
    again = fresh.write(kept.with_resource(res(3)))  # a new writer goes on the last complete version
    assert again.serial == kept.serial + 1 and not log.exists()
    assert backend(tmp_path).read() == again
    assert backend(tmp_path).read_serial(kept.serial) == kept  # the version that only lived in the log is kept


def test_a_damaged_record_before_the_last_is_reported_not_skipped(tmp_path: Path) -> None:
    b = backend(tmp_path)
    _doc, log = files(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        for i in range(3):
            state = b.write(state.with_resource(res(i)))
        lines = log.read_text().splitlines(keepends=True)
        lines[2] = lines[2].replace("l1", "lX")  # checksum no longer matches
        log.write_text("".join(lines))
        with pytest.raises(DamagedStateError, match="line 3 is damaged"):
            backend(tmp_path).read()
        log.unlink()  # let the release fold nothing (our files changed under us)
    assert backend(tmp_path).read() == State.new("lin").next_serial()


def test_a_log_left_over_from_another_document_is_ignored(tmp_path: Path) -> None:
    b = backend(tmp_path)
    _doc, log = files(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        state = b.write(state.with_resource(res(1)))
        stale = log.read_text()
    replaced = backend(tmp_path).write(state.with_resource(res(2)))  # a whole-document write
    log.write_text(stale)  # e.g. a crash between that write's rename and its removal of the log
    assert backend(tmp_path).read() == replaced


def test_the_log_is_folded_when_it_outgrows_the_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_mod, "LOG_MIN_BYTES", 0)
    b = backend(tmp_path)
    doc, log = files(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin").with_resource(res(0, blob="x" * 2000)))
        sizes = []
        for i in range(1, 12):
            state = b.write(state.with_resource(res(i, blob="y" * 400)))
            sizes.append(log.stat().st_size if log.exists() else 0)
            assert sizes[-1] <= doc.stat().st_size + 2000  # never much past the document's size
        assert 0 in sizes  # it was folded along the way
        assert backend(tmp_path).read() == state


def test_an_append_that_reports_failure_after_landing_is_recognised_on_retry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = backend(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        real = os.fsync

        def failing(fd: int) -> None:
            real(fd)
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(local_mod.os, "fsync", failing)
        edited = state.with_resource(res(1))
        with pytest.raises(StateError, match="Input/output error"):
            b.write(edited)
        monkeypatch.undo()
        retried = b.write(edited)  # the record had landed: the retry stores nothing new
        assert retried.serial == state.serial + 1 and backend(tmp_path).read() == retried
        assert b.write(retried.with_resource(res(2))).serial == retried.serial + 1


def test_any_state_edit_replays_to_the_same_state(tmp_path: Path) -> None:
    rng = random.Random(16)
    b = backend(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        for step in range(60):
            i = rng.randrange(12)
            edit = rng.choice(["res", "unres", "pend", "unpend", "bind"])
            if edit == "res":
                state = state.with_resource(res(i, n=step, nested={"k": [1, "two", None]}))
            elif edit == "unres":
                state = state.without_resource(f"lora.l{i}")
            elif edit == "pend":
                state = state.with_pending(pending(i))
            elif edit == "unpend":
                state = state.without_pending(f"lora.l{i}")
            else:
                state = state.bound_to("acct", f"https://h{step}") if not state.account else \
                    State(state.lineage, state.serial, state.resources, state.pending)
            state = b.write(state)
            assert backend(tmp_path).read() == state
    assert backend(tmp_path).read() == state and not files(tmp_path)[1].exists()


def test_a_record_costs_the_changes_not_the_document() -> None:
    def one_edit_bytes(n: int) -> int:
        state = State.new("lin")
        for i in range(n):
            state = state.with_resource(res(i))
        return len(changelog.record_line(state, state.with_resource(res(0, x=1)).next_serial(),
                                         written_at="t", who="w", operation="apply"))

    assert one_edit_bytes(10) == one_edit_bytes(3000)


def test_a_writer_folds_its_own_log_without_reading_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # replaying the log parses the whole document again: a second copy of a 10,700-resource state in memory
    monkeypatch.setattr(local_mod, "LOG_MIN_BYTES", 0)
    b = backend(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin").with_resource(res(0, blob="x" * 500)))

        def no_replay(*args: object, **kwargs: object) -> object:
            raise AssertionError("the writer read its own log back")

        monkeypatch.setattr(changelog, "replay", no_replay)
        for i in range(1, 8):
            state = b.write(state.with_resource(res(i, blob="y" * 300)))
        monkeypatch.undo()
    assert backend(tmp_path).read() == state
    assert [h.serial for h in b.history()][-1] == state.serial


def test_a_symbolic_link_planted_at_the_log_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    b = backend(tmp_path)
    _doc, log = files(tmp_path)
    with b.lock("apply"):
        state = b.write(State.new("lin"))
        log.symlink_to(victim)
        with pytest.raises(StateError, match="symbolic link"):
            b.write(state.with_resource(res(1)))
    assert victim.read_text() == "precious\n"
