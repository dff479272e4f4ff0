"""Account request quota (issue 10 item 6): 429 + Retry-After past max_rps; quotas are not rates."""

from __future__ import annotations

from tests.emulator.emukit import ACCOUNT, Api, FakeClock, MakeApi, assert_rpc_error

DEPLOYMENTS = f"/v1/accounts/{ACCOUNT}/deployments"


def test_off_by_default(api: Api) -> None:
    for _ in range(50):
        resp = api.get(DEPLOYMENTS)
        assert resp.status_code == 200
    assert "x-ratelimit-limit-requests" not in resp.headers


def test_requests_past_the_budget_get_429_with_retry_after(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(max_rps=3)
    clock.t = float(int(clock.t)) + 0.25
    answers = [api.get(DEPLOYMENTS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["x-ratelimit-limit-requests"] == "3"
    body = assert_rpc_error(answers[3], 8, 429, contains="rate limit")
    assert body["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert answers[3].headers["retry-after"] == "1"
    assert "x-should-retry" not in answers[3].headers  # a rate limit is worth retrying later
    clock.tick(1)
    assert api.get(DEPLOYMENTS).status_code == 200


def test_budget_is_per_account(make_api: MakeApi) -> None:
    api = make_api(max_rps=1)
    assert api.get(DEPLOYMENTS).status_code == 200
    assert api.get(DEPLOYMENTS).status_code == 429
    assert api.get("/v1/accounts/other/deployments").status_code == 200


def test_emulator_paths_do_not_count(make_api: MakeApi) -> None:
    api = make_api(max_rps=1)
    for _ in range(3):
        assert api.get("/emulator/v1/clock").status_code == 200
    assert api.get(DEPLOYMENTS).status_code == 200
