"""A hostile or broken server cannot make lorainfra leak the key, hang, loop, eat memory or record nonsense.

Each test meets a real socket (tests/reliability/badserver.py) unless the point is the retry arithmetic,
which runs on a fake clock.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from lorainfra.config.model import DEFAULT_BASE_URL, Config, ProviderSettings, StateSettings, frozen_mapping
from lorainfra.engine.poller import Poller
from lorainfra.errors import ApiError, LorainfraError, ProtocolError, SettingsError, TransportError
from lorainfra.live import RemoteObject
from lorainfra.providers.fireworks import FireworksProvider
from lorainfra.providers.http import HttpLimits, RetryPolicy
from tests.reliability.badserver import DEPLOYMENT, BadServer
from tests.reliability.kit import clean_env, cli, make_config

KEY = "sk-HOSTILE-3f9a1c-never-print"
T = TypeVar("T")


def call(url: str, fn: Callable[[FireworksProvider], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        provider = FireworksProvider(account="acme", api_key=KEY, base_url=url, max_rps=0,
                                     retry=kw.pop("retry", RetryPolicy(deadline=5.0)), **kw)
        try:
            return await fn(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


def get(p: FireworksProvider) -> Awaitable[RemoteObject | None]:
    return p.get("deployment", DEPLOYMENT["name"])


# ------------------------------------------------------------------ item 2: 3xx and empty 2xx


def test_redirect_is_an_error_not_an_empty_account() -> None:
    with BadServer() as srv:
        with pytest.raises(ApiError) as info:
            call(srv.url("redirect"), lambda p: p.refresh())
        with pytest.raises(ApiError):
            call(srv.url("redirect"), get)
    assert info.value.status == 302
    assert "redirect" in str(info.value) and "/elsewhere/v1/" in str(info.value)


@pytest.mark.parametrize("mode", ["empty", "nameless"])
def test_2xx_without_the_object_is_an_error(mode: str) -> None:
    with BadServer() as srv:
        for fn in (get, lambda p: p.create("deployment", "base", frozen_mapping({"base_model": "m"})),
                   lambda p: p.update("deployment", DEPLOYMENT["name"], frozen_mapping({"min_replica_count": 1}),
                                      ("min_replica_count",))):
            with pytest.raises(ProtocolError) as info:
                call(srv.url(mode), fn)
            assert "without" in str(info.value) and "name" in str(info.value), str(info.value)


def test_empty_list_body_and_nameless_items_are_errors() -> None:
    with BadServer() as srv, pytest.raises(ProtocolError, match="not a JSON object"):
        call(srv.url("empty"), lambda p: p.refresh())

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"deployments": [DEPLOYMENT, {"state": "READY"}], "deployedModels": []})

    with pytest.raises(ProtocolError, match="without a name"):
        call("https://api.fireworks.ai", lambda p: p.refresh(), transport=httpx.MockTransport(handler))


def test_not_a_list_is_a_clear_error() -> None:
    with BadServer() as srv, pytest.raises(ProtocolError, match=r"'(deployments|deployedModels)' is not a list"):
        call(srv.url("notalist"), lambda p: p.refresh())


# ------------------------------------------------------------------ item 10: the key never in a message


@pytest.mark.parametrize("mode", ["echo-plain", "echo-html", "echo-json", "echo-envelope"])
def test_echoed_key_is_redacted_whatever_the_body(mode: str) -> None:
    with BadServer() as srv, pytest.raises(ApiError) as info:
        call(srv.url(mode), get)
    exc = info.value
    assert exc.status == 401
    for text in (str(exc), repr(exc), exc.message, str(exc.args)):
        assert KEY not in text
    assert "<redacted>" in str(exc)


def test_key_in_a_transport_exception_is_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy refused header {request.headers['authorization']}", request=request)

    with pytest.raises(TransportError) as info:
        call("https://api.fireworks.ai", get, transport=httpx.MockTransport(handler), retry=RetryPolicy(max_attempts=1))
    assert KEY not in str(info.value) and "<redacted>" in str(info.value)
    assert info.value.__cause__ is None or KEY not in str(info.value.__cause__)


# ------------------------------------------------------------------ item 14: paging loops


def test_repeated_page_token_fails_at_once() -> None:
    with BadServer() as srv:
        with pytest.raises(ProtocolError, match="repeated nextPageToken") as info:
            call(srv.url("loop"), lambda p: p.refresh())
        assert srv.count("loop") <= 6  # three lists, each stopped on its second page
    assert "again" not in str(info.value) or "repeated" in str(info.value)


def test_endless_pages_are_capped() -> None:
    with BadServer() as srv:
        with pytest.raises(ProtocolError, match="more than 5 pages"):
            call(srv.url("pages"), lambda p: p.refresh(), limits=HttpLimits(max_pages=5))
        assert srv.count("pages") <= 3 * 6


# ------------------------------------------------------------------ item 15: slow and silent servers


def test_slowloris_cannot_outlive_the_request_deadline() -> None:
    with BadServer(drip=0.05) as srv:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            call(srv.url("slowloris"), get, limits=HttpLimits(request_timeout=1.0),
                 retry=RetryPolicy(max_attempts=1, deadline=30.0))
        elapsed = time.monotonic() - started
        dripped = srv.sent["slowloris"]
    assert "within 1s" in str(info.value) and "whole-request deadline" in str(info.value)
    assert dripped < 200  # it was not read to the end (100 kB at one byte a drip)
    assert elapsed < 20  # the bound that matters: far below what the drip would take (> 80 min)


def test_silent_server_says_what_timed_out() -> None:
    with BadServer() as srv, pytest.raises(TransportError) as info:
        call(srv.url("silent"), get, limits=HttpLimits(request_timeout=0.5),
             retry=RetryPolicy(max_attempts=1, deadline=30.0))
    message = str(info.value)
    assert not message.rstrip().endswith(":")
    assert "no complete answer within 0.5s" in message, message


def test_operation_deadline_bounds_retries_of_a_silent_server() -> None:
    with BadServer() as srv:
        started = time.monotonic()
        with pytest.raises(TransportError):
            call(srv.url("silent"), get, limits=HttpLimits(request_timeout=0.3), retry=RetryPolicy(deadline=1.0))
        elapsed = time.monotonic() - started
        assert srv.count("silent") >= 2  # retried ...
    assert elapsed < 10  # ... but not past the operation deadline by more than a request's time


# ------------------------------------------------------------------ item 16: huge bodies


@pytest.mark.parametrize("mode", ["huge", "huge-nolength"])
def test_huge_body_is_cut_off(mode: str) -> None:
    with BadServer(huge_bytes=200 * 1024 * 1024) as srv:
        with pytest.raises(ProtocolError, match="larger than 1 MiB"):
            call(srv.url(mode), get, limits=HttpLimits(max_body_bytes=1024 * 1024))
        assert srv.count(mode) == 1  # not retried
        read = srv.sent[mode]
    assert read < 64 * 1024 * 1024  # the server stopped long before 200 MB: the client hung up


def test_show_of_an_endless_file_stops() -> None:
    r = cli("show", "/dev/zero", timeout=60)
    assert r.code == 1 and "Traceback" not in r.err
    assert "larger than" in r.out + r.err


# ------------------------------------------------------------------ item 18: retries bounded by time


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def storm(answers: Callable[[int], httpx.Response], retry: RetryPolicy) -> tuple[FakeClock, list[int], Any]:
    clock = FakeClock()
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return answers(len(seen))

    async def main() -> Any:
        provider = FireworksProvider(account="acme", api_key=KEY, base_url="https://api.fireworks.ai", max_rps=0,
                                     transport=httpx.MockTransport(handler), retry=retry, sleep=clock.sleep,
                                     clock=clock)
        try:
            return await get(provider)
        except LorainfraError as exc:
            return exc
        finally:
            await provider.aclose()

    return clock, seen, asyncio.run(main())


def test_429_storm_is_retried_until_the_operation_deadline_not_6_attempts() -> None:
    clock, seen, result = storm(lambda n: httpx.Response(429, json={"code": 8, "message": "slow down"}),
                                RetryPolicy(deadline=600.0))
    assert isinstance(result, ApiError) and result.status == 429
    assert len(seen) > 20
    assert 590 <= clock.now - 1000.0 <= 600.0


def test_a_long_storm_without_retry_after_keeps_backing_off() -> None:
    clock, seen, result = storm(lambda n: httpx.Response(503, json={"code": 14, "message": "unavailable"}),
                                RetryPolicy(deadline=1e6, max_attempts=1100))
    assert isinstance(result, ApiError) and result.status == 503 and len(seen) == 1100
    assert max(clock.slept) <= 8.0


@pytest.mark.parametrize("header", ["120", "http-date"])
def test_retry_after_is_honoured_as_given_above_60s(header: str) -> None:
    def answers(n: int) -> httpx.Response:
        if n > 1:
            return httpx.Response(200, json=DEPLOYMENT)
        value = email.utils.formatdate(time.time() + 120, usegmt=True) if header == "http-date" else header
        return httpx.Response(429, headers={"Retry-After": value}, json={"code": 8, "message": "slow down"})

    clock, _seen, result = storm(answers, RetryPolicy(deadline=600.0))
    assert isinstance(result, RemoteObject), result
    assert len(clock.slept) == 1 and 110 <= clock.slept[0] <= 121


def test_retry_after_beyond_the_deadline_fails_at_once_and_says_so() -> None:
    clock, seen, result = storm(
        lambda n: httpx.Response(429, headers={"Retry-After": "3600"}, json={"code": 8, "message": "quota"}),
        RetryPolicy(deadline=600.0))
    assert isinstance(result, ApiError) and len(seen) == 1 and clock.slept == []
    assert "Retry-After" in str(result) and "3600" in str(result)


def test_retry_after_on_a_real_socket() -> None:
    with BadServer(retry_after="0.2", ok_after=2) as srv:
        obj = call(srv.url("retry-after"), get)
    assert obj is not None and obj.name == DEPLOYMENT["name"] and srv.count("retry-after") == 2


class FlakyListProvider:
    """LIST fails; GET fails only for one name."""

    def congested(self) -> bool:
        return False

    async def list_objects(self, kind: str) -> list[RemoteObject]:
        raise ApiError(429, message="slow down")

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        raise ApiError(429, message="slow down")

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        await asyncio.sleep(0)
        if name == "bad":
            raise ApiError(503, message="unavailable")
        return RemoteObject(kind, name, "READY", frozen_mapping({}))


def test_a_failing_shared_poll_does_not_fail_every_waiter() -> None:
    async def main() -> list[Any]:
        poller = Poller(FlakyListProvider(), {"lora": 1})  # type: ignore[arg-type]
        names = [f"n{i}" for i in range(5)] + ["bad"]
        return await asyncio.gather(*(poller.get("lora", n) for n in names), return_exceptions=True)

    results = asyncio.run(main())
    assert [r.name for r in results[:5]] == [f"n{i}" for i in range(5)]
    assert isinstance(results[5], ApiError) and results[5].status == 503


# ------------------------------------------------------------------ items 11, 12, 19, 22: settings


def config(endpoint: str | None = None) -> Config:
    return Config(root="/nowhere", provider=ProviderSettings(account="acme", endpoint=endpoint),
                  state=StateSettings(), resources=frozen_mapping({}))


def settings(endpoint_flag: str | None = None, **env: str):  # type: ignore[no-untyped-def]
    from lorainfra.cli.context import resolve_settings

    return resolve_settings(config(), endpoint_flag, {"FIREWORKS_API_KEY": KEY, **env})


def test_empty_base_url_means_the_default() -> None:
    assert settings(FIREWORKS_BASE_URL="").endpoint == DEFAULT_BASE_URL
    assert settings(FIREWORKS_BASE_URL="  ").endpoint == DEFAULT_BASE_URL


@pytest.mark.parametrize(("url", "says"), [
    ("http://[::1", "must be a valid URL"),
    ("http://127.0.0.1:99999", "must have a port from 1 to 65535"),
    ("https://", "with a host"),
])
def test_malformed_base_url_is_a_clear_error(url: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as info:
        settings(FIREWORKS_BASE_URL=url)
    assert "FIREWORKS_BASE_URL" in str(info.value)
    with pytest.raises(SettingsError) as flag:
        settings(url)
    assert "--endpoint" in str(flag.value)


@pytest.mark.parametrize("url", ["http://admin:Pa55-w0rd@127.0.0.1:8080", "https://admin:Pa55-w0rd@example.com",
                                 "https://Pa55-w0rd@example.com"])
def test_credentials_in_the_endpoint_are_refused_without_printing_them(url: str) -> None:
    for attempt in (lambda: settings(url), lambda: settings(FIREWORKS_BASE_URL=url)):
        with pytest.raises(SettingsError, match="credentials") as info:
            attempt()
        assert "Pa55-w0rd" not in str(info.value)


@pytest.mark.parametrize("raw", [f"{KEY}\n", f"  {KEY} ", f"\t{KEY}\r\n"])
def test_key_whitespace_is_stripped(raw: str) -> None:
    from lorainfra.cli.context import resolve_settings

    assert resolve_settings(config(), None, {"FIREWORKS_API_KEY": raw}).api_key == KEY


@pytest.mark.parametrize("raw", [f"{KEY}é", f"sk-{KEY} x", f"{KEY}\x00"])
def test_invalid_key_characters_are_refused_without_showing_the_key(raw: str) -> None:
    from lorainfra.cli.context import resolve_settings

    with pytest.raises(SettingsError, match="FIREWORKS_API_KEY") as info:
        resolve_settings(config(), None, {"FIREWORKS_API_KEY": raw})
    assert KEY not in str(info.value) and "HOSTILE" not in str(info.value)


def test_cli_bad_urls_and_keys_give_one_line_and_no_traceback(tmp_path: Path) -> None:
    folder = str(make_config(tmp_path / "cfg"))
    with BadServer() as srv:
        cases = [
            (["plan", folder, "--endpoint", "http://[::1"], {"FIREWORKS_API_KEY": KEY}),
            (["plan", folder, "--endpoint", "http://127.0.0.1:99999"], {"FIREWORKS_API_KEY": KEY}),
            (["plan", folder, "--endpoint", "http://u:Pa55-w0rd@127.0.0.1:1"], {"FIREWORKS_API_KEY": KEY}),
            (["--debug", "plan", folder, "--endpoint", srv.url("echo-plain")], {"FIREWORKS_API_KEY": KEY}),
            (["plan", folder, "--endpoint", srv.url("echo-envelope")], {"FIREWORKS_API_KEY": f"{KEY}\n"}),
            (["plan", folder, "--endpoint", srv.url("notalist")], {"FIREWORKS_API_KEY": KEY}),
            (["plan", folder, "--endpoint", srv.url("redirect")], {"FIREWORKS_API_KEY": KEY}),
            (["plan", folder], {"FIREWORKS_API_KEY": f"{KEY}é"}),
        ]
        for args, env in cases:
            r = cli(*args, env=clean_env(**env))
            text = r.out + r.err
            assert r.code == 1, (args, text)
            assert KEY not in text and "Pa55-w0rd" not in text, (args, text)
            if "--debug" not in args:
                assert "Traceback" not in text, (args, text)
                assert text.strip().startswith("Error:"), (args, text)


# ------------------------------------------------------------------ item 12: DSN passwords


@pytest.mark.parametrize("dsn", ["postgresql://bob:Secr3tPW@[::1/db", "postgresql://bob:Secr3t PW@127.0.0.1:1/db",
                                 "host=127.0.0.1 port=1 password='Secr3t PW' connect_timeout=x",
                                 "postgresql://bob:Secr3t%20PW@127.0.0.1:99999/db"])
def test_unusable_dsn_never_shows_its_password(tmp_path: Path, dsn: str) -> None:
    pytest.importorskip("psycopg")
    folder = make_config(tmp_path / "cfg")
    cfg = folder / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("backend: local", "backend: postgres\n  dsn_env: HOSTILE_DSN"))
    r = cli("plan", str(folder), env=clean_env(FIREWORKS_API_KEY=KEY, HOSTILE_DSN=dsn))
    text = r.out + r.err
    assert r.code == 1 and "Traceback" not in text, text
    assert "Secr3t" not in text, text
    assert text.startswith("Error: postgres state backend"), text


def test_redact_finds_passwords_in_urls_and_dsns_no_parser_accepts() -> None:
    from lorainfra.errors import dsn_passwords, redact

    assert redact("x https://u:p%40ss@h/ y", ["sk-long-key"]) == "x https://u:<redacted>@h/ y"
    assert dsn_passwords("postgresql://bob:Secr3t PW@[::1/db") == ["Secr3t PW"]
    assert dsn_passwords("postgresql://bob:p%20w@h/db") == ["p%20w", "p w"]
    assert dsn_passwords("host=h password='a \\'b' user=u") == ["a 'b"]
    assert dsn_passwords("host=h password=plain user=u") == ["plain"]
    assert dsn_passwords("host=h user=u") == []
