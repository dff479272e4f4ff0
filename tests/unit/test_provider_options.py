"""FireworksProvider passes the HTTP client's options through (``HttpOptions``) instead of repeating them."""

from __future__ import annotations

import asyncio
import inspect
import random
from typing import get_type_hints

import httpx

from lorainfra.providers.fireworks import FireworksProvider
from lorainfra.providers.http import HttpClient, HttpLimits, HttpOptions, RetryPolicy


def test_http_options_are_the_client_constructors_keywords() -> None:
    keywords = {name for name, p in inspect.signature(HttpClient.__init__).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"api_key", "base_url"}
    assert set(get_type_hints(HttpOptions)) == keywords


def test_the_provider_hands_every_option_to_its_client_and_the_transport_to_its_uploads() -> None:
    async def sleep(_: float) -> None:
        return None

    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    retry, limits, rng = RetryPolicy(max_attempts=2), HttpLimits(request_timeout=7.0), random.Random(1)
    provider = FireworksProvider(account="acme", api_key="k", base_url="https://api.fireworks.ai", transport=transport,
                                 retry=retry, max_rps=3.0, sleep=sleep, rng=rng, limits=limits, clock=lambda: 5.0)
    http = provider._http
    assert (http._retry, http._limits, http._rng, http._sleep, http._limiter.rate, http._clock()) == (
        retry, limits, rng, sleep, 3.0, 5.0)
    assert provider._uploader._sleep is sleep
    assert provider.endpoint == "api.fireworks.ai"
    asyncio.run(provider.aclose())
