"""API_TOKEN: 'Authorization: Bearer <token>' (scheme in any case) or 'X-Api-Key: <token>'.

The Cloud Scheduler warm-up job authenticates to Cloud Run with a Google OIDC token in
Authorization; with API_TOKEN set it sends the token in X-Api-Key as well, and both must work
together: the OIDC token is not the API token, and must not make the request fail.
"""

from __future__ import annotations

import pytest

from tests.http_client import http_client

OIDC = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJhdWQiOiJodHRwczovL29jci1odHRwIn0.c2lnbmF0dXJl"


@pytest.fixture(scope="module")
def client():
    return http_client(API_TOKEN="s3cret")


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer s3cret"},
    {"Authorization": "bearer s3cret"},
    {"Authorization": "BEARER   s3cret "},
    {"X-Api-Key": "s3cret"},
    {"Authorization": f"Bearer {OIDC}", "X-Api-Key": "s3cret"},  # the warm-up job: OIDC for Cloud Run, key for us
    {"Authorization": "Bearer s3cret", "X-Api-Key": "an-old-key"},
], ids=["bearer", "lowercase-scheme", "uppercase-scheme-spaces", "api-key", "scheduler-oidc-plus-key", "either-matches"])
def test_accepted(client, headers):
    response = client.post("/warmup", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": f"Bearer {OIDC}"},  # the OIDC token alone is not the API token
    {"Authorization": "Basic s3cret"},
    {"Authorization": "s3cret"},
    {"Authorization": "Bearer"},
    {"X-Api-Key": "wrong"},
], ids=["none", "oidc-only", "basic-scheme", "no-scheme", "empty-bearer", "wrong-key"])
def test_refused(client, headers):
    response = client.post("/warmup", headers=headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()["error"]
    assert body["code"] == "unauthorized" and "X-Api-Key" in body["message"]
