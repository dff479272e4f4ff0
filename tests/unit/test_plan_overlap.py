"""`lorainfra plan` starts its refresh from lorainfra.yaml alone, and loads the rest of the config meanwhile; errors
are reported as without the overlap, and nothing is left running."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lorainfra.cli import commands
from lorainfra.cli.app import main

WAIT = 30.0  # seconds a condition may take on a loaded machine; the tests wait on events, never sleep


class FakeApi:
    """Empty collections over real HTTP; ``status`` for every answer; ``first`` set at the first request."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.first = threading.Event()
        self.paths: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.paths.append(self.path)
                api.first.set()
                collection = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
                body = json.dumps({collection: [], "nextPageToken": "", "totalSize": 0} if api.status == 200
                                  else {"error": {"code": 16, "message": "bad key", "status": "UNAUTHENTICATED"}})
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body.encode())
                except BrokenPipeError:  # a cancelled request (the test of a config error stops the refresh)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.close()


def _folder(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "lorainfra.yaml").write_text("provider:\n  account: acme\nstate:\n  backend: local\n")
    if extra:
        (tmp_path / "deployments.yaml").write_text(extra)
    return tmp_path


@dataclass(frozen=True)
class Ran:
    exit_code: int
    output: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """``lorainfra plan`` in this process, through the console script's error handling."""
    monkeypatch.setenv("FIREWORKS_API_KEY", "k-123")

    def plan(folder: Path, api: FakeApi, *args: str) -> Ran:
        code: int | str | None = 0
        try:
            main(["plan", str(folder), "--endpoint", api.url, *args])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return Ran(int(code or 0), out.out + out.err)

    return plan


def _config_loads_after_a_request(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The config load waits until the API saw a request (it never would if the refresh waited for the config)."""
    seen: list[bool] = []
    load = commands._workspace

    def waiting(*args: Any, **kwargs: Any) -> Any:
        seen.append(api.first.wait(WAIT))
        return load(*args, **kwargs)

    monkeypatch.setattr(commands, "_workspace", waiting)
    return seen


def test_the_refresh_is_under_way_while_the_config_loads(run: Callable[..., Ran], tmp_path: Path, api: FakeApi,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _config_loads_after_a_request(api, monkeypatch)
    result = run(_folder(tmp_path), api, "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert seen == [True]
    assert "No changes" in result.output


def test_a_config_error_is_reported_as_before_and_the_refresh_is_stopped(run: Callable[..., Ran],
        tmp_path: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder) -> None:
    seen = _config_loads_after_a_request(api, monkeypatch)
    result = run(_folder(tmp_path, "deployments:\n  base:\n    bogus_key: 1\n"), api)
    assert result.exit_code == 1
    assert seen == [True]
    assert "deployments.yaml:3:5" in result.output and "bogus_key" in result.output
    assert "Traceback" not in result.output
    assert not [w for w in recwarn if "never awaited" in str(w.message) or "never retrieved" in str(w.message)]


def test_a_refresh_error_is_reported_as_before(run: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = FakeApi(status=401)
    try:
        seen = _config_loads_after_a_request(failing, monkeypatch)
        result = run(_folder(tmp_path), failing)
    finally:
        failing.close()
    assert result.exit_code == 1
    assert seen == [True]
    assert "401" in result.output and "k-123" not in result.output


def test_settings_that_differ_once_loaded_are_refreshed_again(run: Callable[..., Ran], tmp_path: Path, api: FakeApi,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """lorainfra.yaml alone said another account (it cannot, but the guard must hold): the early refresh is
    dropped and the loaded config's account is listed."""
    import dataclasses

    from lorainfra.cli import options

    guess = options.settings_selected

    def wrong(*args: Any, **kwargs: Any) -> Any:
        config = guess(*args, **kwargs)
        return dataclasses.replace(config, provider=dataclasses.replace(config.provider, account="other"))

    monkeypatch.setattr(options, "settings_selected", wrong)
    result = run(_folder(tmp_path), api, "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    listed = {p.split("?", 1)[0].rsplit("/", 1)[-1] for p in api.paths if p.startswith("/v1/accounts/acme/")}
    assert listed == {"deployments", "deployedModels", "models"}


def test_a_saved_plan_refreshes_after_the_config_loads_under_the_lock(run: Callable[..., Ran], tmp_path: Path, api: FakeApi,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    loaded_before_any_request: list[bool] = []
    load = commands._workspace

    def recording(*args: Any, **kwargs: Any) -> Any:
        loaded_before_any_request.append(not api.first.is_set())
        return load(*args, **kwargs)

    monkeypatch.setattr(commands, "_workspace", recording)
    result = run(_folder(tmp_path), api, "--out", str(tmp_path / "p.plan"))
    assert result.exit_code == 0, result.output
    assert loaded_before_any_request == [True]


def test_the_loop_gets_the_gil_soon_while_the_config_loads_and_the_interval_is_restored(
        run: Callable[..., Ran], tmp_path: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    before = sys.getswitchinterval()
    during: list[float] = []
    load = commands._workspace

    def recording(*args: Any, **kwargs: Any) -> Any:
        during.append(sys.getswitchinterval())
        return load(*args, **kwargs)

    monkeypatch.setattr(commands, "_workspace", recording)
    result = run(_folder(tmp_path, "deployments:\n  base:\n    bogus_key: 1\n"), api)  # restored on errors too
    assert result.exit_code == 1
    assert during == [commands.SWITCH_WHILE_LOADING] and before > commands.SWITCH_WHILE_LOADING
    assert sys.getswitchinterval() == before
