"""stripe-python's HTTP client, sending through the engine's HTTP policy.

stripe-python lets a `StripeClient` take any `stripe.HTTPClient`. This one hands every
request to connector.http.PolicyClient, so Stripe calls get the same timeouts, backoff,
Retry-After handling, pacing and call records (on the Attempt) as every other system, and a
transport mounted for a base URL (the simulator in tests and the demo) is used. The SDK's
own retry loop stays off (`max_network_retries=0`): one policy decides, not two.

What the policy does with a Stripe answer: a GET is retried on 429 and 5xx; a POST is
retried on 429 and 503 only (the idempotency layer did not run), any other answer goes back
to the SDK, which raises its typed error; a POST whose answer was lost raises
`DeliveryUnknown` from the policy itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from connector.http import PolicyClient


class PolicyHTTPClient(stripe.HTTPClient):
    name = "ml-connector"

    def __init__(self, http: PolicyClient) -> None:
        super().__init__()
        self.http = http

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                **_: Any) -> tuple[bytes, int, Mapping[str, str]]:
        content = post_data.encode() if isinstance(post_data, str) else post_data
        response = self.http.request(method.upper(), url, headers=dict(headers or {}), content=content)
        return response.content, response.status_code, response.headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                       **_: Any) -> Any:
        raise NotImplementedError("streaming responses are not used")

    def close(self) -> None:
        self.http.close()
