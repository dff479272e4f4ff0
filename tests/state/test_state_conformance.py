"""One conformance suite for every state backend (local file and PostgreSQL)."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorainfra.errors import LockError, StateError
from lorainfra.state.model import PendingOp, ResourceState, State


def sample_state(lineage: str | None = None) -> State:
    dep = ResourceState(
        address="deployment.shared-base",
        kind="deployment",
        remote_name="accounts/acme/deployments/shared-base",
        attributes={
            "base_model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "accelerator": {"type": "NVIDIA_H100_80GB", "count": 1},
            "replicas": {"min": 1, "max": 4},
            "addons": True,
            "ratio": 0.25,
            "labels": ["a", "b"],
            "note": "ünïcode ✓",
            "nothing": None,
        },
        dependencies=(),
        observed_digest="sha256:abc",
    )
    lora = ResourceState(
        address="lora.support-bot",
        kind="lora",
        remote_name="accounts/acme/deployedModels/support-bot-x1",
        attributes={"model": "accounts/acme/models/support-bot-v3", "deployment": "shared-base"},
        dependencies=("deployment.shared-base",),
        observed_digest="sha256:def",
    )
    pending = PendingOp(
        address="lora.faq-bot",
        operation="create",
        kind="lora",
        identity={"model": "accounts/acme/models/faq-v1", "deployment": "", "serverless": True},
        attributes={"model": "accounts/acme/models/faq-v1", "serverless": True},
        dependencies=("deployment.shared-base",),
        started_at="2024-05-01T12:00:00.000Z",
    )
    return State.new(lineage).with_resource(dep).with_resource(lora).with_pending(pending)


# -- reading and writing --


def test_empty_store_reads_none(store: Store) -> None:
    backend = store.new()
    assert backend.read() is None
    assert list(backend.history()) == []
    assert backend.read_serial(1) is None
    assert backend.lock_holder() is None


def test_first_write_stores_serial_1(store: Store) -> None:
    backend = store.new()
    stored = backend.write(State.new(), operation="apply")
    assert stored.serial == 1
    assert backend.read() == stored


def test_round_trip_every_field(store: Store) -> None:
    state = sample_state()
    written = store.new("alice").write(state, operation="apply")
    read = store.new("bob").read()
    assert read == written
    assert read is not None
    assert read.to_json() == replace(state, serial=1).to_json()
    assert read.dumps() == written.dumps()
    assert read.resources["lora.support-bot"].dependencies == ("deployment.shared-base",)
    assert read.pending["lora.faq-bot"].identity["serverless"] is True
    assert read.resources["deployment.shared-base"].attributes["ratio"] == 0.25


def test_serial_compare_and_swap(store: Store) -> None:
    a, b = store.new("alice"), store.new("bob")
    base = a.write(State.new())
    assert b.read() == base
    won = a.write(base.with_resource(sample_state().resources["deployment.shared-base"]))
    assert won.serial == 2
    with pytest.raises(StateError, match="changed by another writer: expected serial 1, found 2"):
        b.write(base.without_pending("x"))
    assert b.read() == won  # the loser changed nothing


def test_concurrent_first_writes_one_wins(store: Store) -> None:
    backends = [store.new(f"w{i}") for i in range(6)]
    results: list[object] = []
    barrier = threading.Barrier(len(backends))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results.append(backends[i].write(State.new(f"lineage-{i}")))
        except StateError as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(backends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, State)]
    assert len(wins) == 1
    assert store.new().read() == wins[0]


def test_concurrent_writers_from_one_base(store: Store) -> None:
    base = store.new().write(State.new())
    backends = [store.new(f"w{i}") for i in range(6)]
    outcomes: list[object] = []
    barrier = threading.Barrier(len(backends))

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(backends[i].write(base, operation=f"w{i}"))
        except StateError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(backends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, State) for o in outcomes) == 1
    assert all("another writer" in str(o) for o in outcomes if isinstance(o, StateError))
    latest = store.new().read()
    assert latest is not None and latest.serial == 2


def test_lineage_is_kept(store: Store) -> None:
    backend = store.new()
    stored = backend.write(State.new("lineage-a"))
    with pytest.raises(StateError, match="lineage"):
        backend.write(replace(stored, lineage="lineage-b"))
    assert backend.read() == stored


def test_history_and_read_serial(store: Store) -> None:
    backend = store.new("alice@host (pid 7)")
    state = backend.write(State.new(), operation="init")
    versions = [state]
    for i in range(5):
        state = backend.write(
            state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}")),
            operation=f"apply {i}",
        )
        versions.append(state)
    history = list(backend.history())
    assert [h.serial for h in history] == [1, 2, 3, 4, 5, 6]
    assert {h.lineage for h in history} == {state.lineage}
    assert history[0].operation == "init" and history[-1].operation == "apply 4"
    assert all(h.who == "alice@host (pid 7)" for h in history)
    assert history[0].written_at == "2024-05-01T12:00:00.000Z"
    for version in versions:
        assert store.new().read_serial(version.serial) == version
    assert backend.read_serial(99) is None


# -- locking --


def test_lock_is_exclusive_and_names_holder(store: Store) -> None:
    a, b = store.new("alice@host (pid 123)"), store.new("bob@host (pid 456)")
    with a.lock("apply") as info:
        assert info.who == "alice@host (pid 123)" and info.operation == "apply"
        assert info.created == "2024-05-01T12:00:00.000Z"
        assert b.lock_holder() == info
        started = time.monotonic()
        with pytest.raises(LockError) as caught, b.lock("plan"):
            pass
        assert time.monotonic() - started < 1.0  # fails fast
        message = str(caught.value)
        assert message.startswith("state is locked: ")
        for part in (
            info.id,
            "alice@host (pid 123)",
            "2024-05-01T12:00:00.000Z",
            "'apply'",
            "--lock-timeout",
            f"lorainfra force-unlock {info.id}",
        ):
            assert part in message
    assert b.lock_holder() is None
    with b.lock("plan") as second:
        assert second.id != info.id


def test_lock_waits_with_timeout(store: Store) -> None:
    a, b = store.new("alice"), store.new("bob")
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with a.lock("apply"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        held.wait(5)
        started = time.monotonic()
        with pytest.raises(LockError, match=r"waited 0\.3s"), b.lock("plan", timeout=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2.0
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
        with b.lock("plan", timeout=10) as info:
            assert info.who == "bob"
        assert time.monotonic() - started < 5.0
    finally:
        release.set()
        thread.join()


def test_lock_released_when_holder_is_killed(store: Store) -> None:
    proc = store.child("hold-lock", who="victim@host (pid 999)")
    backend = store.new("next")
    holder = backend.lock_holder()
    assert holder is not None and holder.who == "victim@host (pid 999)"
    with pytest.raises(LockError, match="victim"), backend.lock("apply"):
        pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    started = time.monotonic()
    with backend.lock("apply", timeout=5) as info:
        took = time.monotonic() - started
        assert info.who == "next"
        assert backend.lock_holder() == info
    assert took < 1.0, f"lock takeover after SIGKILL took {took:.3f}s"
    assert backend.lock_holder() is None


def test_stale_record_is_not_a_holder_and_can_be_force_unlocked(store: Store) -> None:
    proc = store.child("hold-lock", who="victim")
    backend = store.new()
    holder = backend.lock_holder()
    assert holder is not None
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 5
    while backend.lock_holder() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.lock_holder() is None
    with pytest.raises(StateError, match="does not match"):
        backend.force_unlock("not-the-id")
    backend.force_unlock(holder.id)
    with pytest.raises(StateError, match="nothing to unlock"):
        backend.force_unlock(holder.id)


def test_writes_need_no_lock_but_lock_does_not_block_own_writes(store: Store) -> None:
    backend = store.new()
    with backend.lock("apply"):
        stored = backend.write(State.new())
        stored = backend.write(stored)
    assert stored.serial == 2


# -- crashes --


def test_crash_mid_write_leaves_a_consistent_store(store: Store) -> None:
    backend = store.new()
    backend.write(State.new())
    for delay in (0.05, 0.13, 0.21):
        proc = store.child("write-loop")
        time.sleep(delay)
        proc.kill()
        proc.wait(10)
        latest = backend.read()  # parses: never a partial document
        assert latest is not None
        assert backend.read_serial(latest.serial) == latest
        assert max(h.serial for h in backend.history()) == latest.serial
        after = backend.write(latest)  # the store still takes writes
        assert after.serial == latest.serial + 1


# -- property: any state survives a round trip --

# No NUL: PostgreSQL text and jsonb cannot hold U+0000 (the backend refuses it with a StateError).
chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(chars, max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(chars, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@st.composite
def states(draw: st.DrawFn) -> State:
    state = State.new("fixed-lineage")
    for name in draw(st.lists(names, max_size=4, unique=True)):
        state = state.with_resource(
            ResourceState(
                address=f"lora.{name}",
                kind="lora",
                remote_name=f"accounts/a/deployedModels/{name}",
                attributes=draw(
                    st.dictionaries(st.text(chars, min_size=1, max_size=8), json_values, max_size=4)
                ),
                dependencies=tuple(draw(st.lists(names.map(lambda n: f"deployment.{n}"), max_size=2))),
                observed_digest=draw(st.text(chars, max_size=10)),
            )
        )
    for name in draw(st.lists(names, max_size=2, unique=True)):
        state = state.with_pending(
            PendingOp(
                address=f"deployment.{name}",
                operation=draw(st.sampled_from(["create", "update", "delete"])),
                kind="deployment",
                identity={"remote_name": f"accounts/a/deployments/{name}"},
                attributes=draw(
                    st.dictionaries(st.text(chars, min_size=1, max_size=8), json_values, max_size=3)
                ),
                started_at="2024-05-01T12:00:00.000Z",
            )
        )
    return state


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states())
def test_any_state_round_trips(store: Store, state: State) -> None:
    backend = store.new()
    current = backend.read()
    written = backend.write(replace(state, serial=current.serial if current else 0))
    read = store.new().read()
    assert read == written
    assert read is not None and read.to_json() == written.to_json()


def test_numbers_keep_their_type_and_value(store: Store) -> None:
    attrs = {"big_float": 1e20, "float": 7.205759403792193e16, "one": 1.0, "int": 2**62, "neg": -0.5}
    state = State.new().with_resource(
        ResourceState(address="lora.n", kind="lora", remote_name="r", attributes=attrs)
    )
    written = store.new().write(state)
    read = store.new().read()
    assert read is not None
    got = dict(read.resources["lora.n"].attributes)
    assert got == attrs
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in attrs.items()}
    assert read.dumps() == written.dumps()
