"""Probe: check the provider's assumptions about the Fireworks REST API against a live server, read-only.

``run_probe`` sends only GETs and one kind of POST, a deployment create with ``validateOnly=true``
(which the API documents as "will not create the deployment"). ``ReadOnlyClient`` refuses anything
else before it reaches the transport, so a probe can never create, update or delete. Each check
returns a ``Check``: the assumption, what the server did, and whether that matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from lorainfra import __version__

DEFAULT_BASE_MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
PROBE_ID = "lorainfra-probe-validate-only"  # the ID a validateOnly create names; nothing may exist under it
PAGE_SIZE = 2  # small pages so that the public model catalog needs a second page
DEPLOYMENT_STATES = frozenset(
    {"STATE_UNSPECIFIED", "CREATING", "READY", "DELETING", "FAILED", "UPDATING", "DELETED"}
)
DEPLOYED_MODEL_STATES = frozenset({"STATE_UNSPECIFIED", "UNDEPLOYING", "DEPLOYING", "DEPLOYED", "UPDATING"})
RATE_HEADER = re.compile(
    r"^(retry-after(-ms)?|x-ratelimit-.*|ratelimit(-.*)?|x-should-retry)$", re.IGNORECASE
)


class MutatingRequestRefused(RuntimeError):
    """The probe tried to send a request that could change the account (a bug; never sent)."""


@dataclass(frozen=True)
class Check:
    """One assumption, what the server did, and whether the two agree."""

    name: str
    assumption: str
    observed: str
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "assumption": self.assumption, "observed": self.observed, "ok": self.ok}


@dataclass(frozen=True)
class ProbeReport:
    """Every check of one probe run; ``to_json`` is what a user attaches to a bug report (no secrets)."""

    endpoint: str
    account: str
    checks: tuple[Check, ...]
    rate_headers: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "lorainfra": __version__,
            "endpoint": self.endpoint,
            "account": self.account,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
            "rate_limit_headers_seen": list(self.rate_headers),
        }


def public_endpoint(url: str) -> str:
    """The endpoint without user info, query or fragment (safe to print and to attach to a report)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass
class ReadOnlyClient:
    """An httpx client that sends only GETs and validateOnly deployment creates; records rate headers."""

    http: httpx.Client
    account: str
    rate_headers: set[str] = field(default_factory=set)

    def path(self, collection: str) -> str:
        return f"/v1/accounts/{self.account}/{collection}"

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self._send("GET", path, params=dict(params or {}))

    def validate_create(self, body: dict[str, Any], params: Mapping[str, Any]) -> httpx.Response:
        return self._send(
            "POST", self.path("deployments"), params={**params, "validateOnly": "true"}, json=body
        )

    def _send(
        self, method: str, path: str, *, params: dict[str, Any], json: dict[str, Any] | None = None
    ) -> httpx.Response:
        allowed = method == "GET" or (
            method == "POST" and path == self.path("deployments") and params.get("validateOnly") == "true"
        )
        if not allowed:
            raise MutatingRequestRefused(f"probe refused to send {method} {path}")
        response = self.http.request(method, path, params=params, json=json)
        self.rate_headers.update(h.lower() for h in response.headers if RATE_HEADER.match(h))
        return response


Outcome = tuple[str, bool]  # (what the server did, whether it matches the assumption)


@dataclass(frozen=True)
class Probe:
    """One check: a name, the assumption it tests, and the function that tests it."""

    name: str
    assumption: str
    run: Callable[[ReadOnlyClient, str], Outcome]

    def check(self, client: ReadOnlyClient, base_model: str) -> Check:
        try:
            observed, ok = self.run(client, base_model)
        except httpx.HTTPError as exc:
            observed, ok = f"request failed: {type(exc).__name__}: {exc}", False
        return Check(self.name, self.assumption, observed, ok)


def run_probe(
    endpoint: str,
    account: str,
    api_key: str,
    *,
    base_model: str = DEFAULT_BASE_MODEL,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> ProbeReport:
    """Run every check against ``endpoint``; network failures become DIFFERS rows, not exceptions."""
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": f"lorainfra-probe/{__version__}"}
    with httpx.Client(
        base_url=endpoint.rstrip("/"), headers=headers, transport=transport, timeout=timeout
    ) as http:
        client = ReadOnlyClient(http, account)
        checks = tuple(
            _redacted(probe.check(client, base_model), api_key) for probe in probes(account, base_model)
        )
    return ProbeReport(public_endpoint(endpoint), account, checks, tuple(sorted(client.rate_headers)))


def _redacted(check: Check, secret: str) -> Check:
    """A server that echoes the API key (in an error message, say) must not put it into the report."""
    if not secret or secret not in check.observed:
        return check
    return Check(check.name, check.assumption, check.observed.replace(secret, "<redacted>"), check.ok)


# --- checks ------------------------------------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _status(response: httpx.Response) -> str:
    body = _json(response)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = str(inner.get("message", ""))[:160] if isinstance(inner, dict) else ""
        return f"HTTP {response.status_code}" + (f": {message}" if message else "")
    return f"HTTP {response.status_code} (body is not JSON)"


def _list_shape(client: ReadOnlyClient, collection: str, key: str) -> tuple[bool, str, list[dict[str, Any]]]:
    response = client.get(client.path(collection), {"pageSize": PAGE_SIZE})
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return False, _status(response), []
    items = body.get(key, [])
    token = body.get("nextPageToken", "")
    if not isinstance(items, list) or not isinstance(token, str):
        return False, f"HTTP 200 with keys {sorted(body)}; {key!r} is {type(items).__name__}", []
    present = key if key in body else f"{key} absent (empty)"
    return (
        True,
        f"HTTP 200; {present}, {len(items)} item(s); nextPageToken {'set' if token else 'empty'}",
        items,
    )


def _auth(client: ReadOnlyClient, base_model: str) -> Outcome:
    response = client.get(client.path("deployments"), {"pageSize": 1})
    return _status(response), response.status_code == 200


def _lister(collection: str, key: str, states: frozenset[str]) -> Callable[[ReadOnlyClient, str], Outcome]:
    def run(client: ReadOnlyClient, base_model: str) -> Outcome:
        ok, observed, items = _list_shape(client, collection, key)
        prefix = f"accounts/{client.account}/{collection}/"
        bad = [i.get("name") for i in items if not str(i.get("name", "")).startswith(prefix)]
        odd = sorted({str(i.get("state")) for i in items if i.get("state") not in states})
        if bad:
            ok, observed = False, f"{observed}; names not under {prefix}: {bad[:3]}"
        if odd:
            ok, observed = False, f"{observed}; states not in the known enum: {odd}"
        return observed, ok

    return run


def _paging(client: ReadOnlyClient, base_model: str) -> Outcome:
    path = "/v1/accounts/fireworks/models"
    first = client.get(path, {"pageSize": PAGE_SIZE})
    body = _json(first)
    if first.status_code != 200 or not isinstance(body, dict):
        return _status(first), False
    token = body.get("nextPageToken") or ""
    names = [m.get("name") for m in body.get("models", [])]
    if len(names) > PAGE_SIZE:
        return f"pageSize={PAGE_SIZE} returned {len(names)} models", False
    if not token:
        return f"no nextPageToken after {len(names)} model(s)", False
    second = client.get(path, {"pageSize": PAGE_SIZE, "pageToken": token})
    more = _json(second)
    if second.status_code != 200 or not isinstance(more, dict):
        return f"second page: {_status(second)}", False
    again = [m.get("name") for m in more.get("models", [])]
    overlap = set(names) & set(again)
    return f"page 1: {len(names)} model(s), page 2: {len(again)}, overlap {len(overlap)}", bool(
        again
    ) and not overlap


def _not_found(client: ReadOnlyClient, base_model: str) -> Outcome:
    response = client.get(client.path(f"deployments/{PROBE_ID}"))
    body = _json(response)
    wrapped = isinstance(body, dict) and isinstance(body.get("error"), dict)
    inner = body["error"] if wrapped else body
    ok = (
        response.status_code == 404
        and isinstance(inner, dict)
        and inner.get("code") in (5, 404, "NOT_FOUND")
        and bool(inner.get("message"))
    )
    observed = _status(response)
    if isinstance(inner, dict):
        envelope = '{"error": {code, message}}' if wrapped else "{code, message, details}"
        observed += f"; envelope {envelope}, code {inner.get('code')!r}"
    return observed, ok


def _base_model(client: ReadOnlyClient, base_model: str) -> Outcome:
    response = client.get(f"/v1/{base_model}")
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return _status(response), False
    fields = {k: body.get(k) for k in ("kind", "state", "supportsLora")}
    ok = body.get("name") == base_model and body.get("state") == "READY" and "kind" in body
    return f"HTTP 200; {fields}", ok


def _shape_default(client: ReadOnlyClient, base_model: str) -> Outcome:
    body = {"baseModel": base_model, "deploymentShape": "default", "minReplicaCount": 0, "maxReplicaCount": 1}
    response = client.validate_create(body, {"deploymentId": PROBE_ID})
    data = _json(response)
    if response.status_code != 200 or not isinstance(data, dict):
        return _status(response), False
    shape = str(data.get("deploymentShape", ""))
    return f"HTTP 200; deploymentShape {shape!r}", "/deploymentShapes/" in shape and "/versions/" in shape


def _stored_nothing(client: ReadOnlyClient, base_model: str) -> Outcome:
    response = client.get(client.path(f"deployments/{PROBE_ID}"))
    return _status(response), response.status_code == 404


def _required_fields(client: ReadOnlyClient, base_model: str) -> Outcome:
    missing_base = client.validate_create({"deploymentShape": "default"}, {})
    no_hardware = client.validate_create({"baseModel": base_model}, {})
    observed = (
        f"no baseModel: {_status(missing_base)}; no shape and no acceleratorType: {_status(no_hardware)}"
    )
    return observed, missing_base.status_code == 400 and no_hardware.status_code == 400


def _rate_headers(client: ReadOnlyClient, base_model: str) -> Outcome:
    return f"seen: {', '.join(sorted(client.rate_headers)) or 'none'}", True


def probes(account: str, base_model: str) -> tuple[Probe, ...]:
    """Every check, in the order they run (the validateOnly create comes before the GET that checks it)."""
    return (
        Probe("auth", "a bearer API key is accepted for this account (GET deployments is HTTP 200)", _auth),
        Probe(
            "list-deployments",
            "GET deployments returns {deployments: [...], nextPageToken}; names accounts/<account>/deployments/<id>; "
            "states in the Deployment enum",
            _lister("deployments", "deployments", DEPLOYMENT_STATES),
        ),
        Probe(
            "list-deployed-models",
            "GET deployedModels returns {deployedModels: [...], nextPageToken}; names "
            "accounts/<account>/deployedModels/<id>; states in the DeployedModel enum (no FAILED)",
            _lister("deployedModels", "deployedModels", DEPLOYED_MODEL_STATES),
        ),
        Probe(
            "paging", "pageSize + pageToken page the public model list; page 2 holds other models", _paging
        ),
        Probe(
            "error-envelope",
            "a missing deployment is HTTP 404 with a JSON error {code: 5 (NOT_FOUND), message}",
            _not_found,
        ),
        Probe("base-model", f"GET {base_model} is a READY model with kind and supportsLora", _base_model),
        Probe(
            "shape-default",
            "a validateOnly create with deploymentShape 'default' answers the resolved shape version name",
            _shape_default,
        ),
        Probe(
            "validate-only",
            f"validateOnly stores nothing (GET deployments/{PROBE_ID} is 404 afterwards)",
            _stored_nothing,
        ),
        Probe(
            "required-fields",
            "a create without baseModel, or with neither deploymentShape nor acceleratorType, is HTTP 400",
            _required_fields,
        ),
        Probe(
            "rate-limit-headers",
            "informational: the rate-limit headers the server sent (the provider needs none; it reads "
            "Retry-After on 429)",
            _rate_headers,
        ),
    )
