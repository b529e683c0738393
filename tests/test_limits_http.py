"""The signed DynamoDB JSON client: kept-alive connections, SigV4 headers, errors shaped like botocore's, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from lambdagate.limits.dynamodb_http import DynamoError, SignedJsonClient


class Fake:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.seen: list[dict[str, Any]] = []
        self.ports: set[int] = set()


@pytest.fixture
def fake() -> Iterator[tuple[Fake, str]]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as DynamoDB

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.seen.append({"target": self.headers["x-amz-target"], "auth": self.headers["authorization"],
                               "body": json.loads(body)})
            state.ports.add(self.client_address[1])
            status, answer = state.answers.pop(0) if state.answers else (200, {})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/x-amz-json-1.0")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def client(url: str) -> SignedJsonClient:
    return SignedJsonClient(url, "eu-west-1", Credentials("AKIDEXAMPLE", "secret", "token"))


def test_calls_are_signed_and_reuse_one_connection(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.answers = [(200, {"Attributes": {"req": {"N": "1"}}}), (200, {}), (200, {"Item": {}})]
    dynamo = client(url)
    assert dynamo.call("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}}) == {
        "Attributes": {"req": {"N": "1"}}}
    dynamo.call("UpdateItem", {"TableName": "t"})
    dynamo.call("GetItem", {"TableName": "t"})
    assert [s["target"] for s in state.seen] == ["DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.UpdateItem",
                                                  "DynamoDB_20120810.GetItem"]
    assert state.seen[0]["auth"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/dynamodb/aws4_request" in state.seen[0]["auth"]
    assert state.seen[0]["body"] == {"TableName": "t", "Key": {"pk": {"S": "a"}}}
    assert len(state.ports) == 1  # one kept-alive connection for the three calls


def test_errors_are_shaped_like_botocore_and_retried_when_retryable(fake: tuple[Fake, str]) -> None:
    state, url = fake
    refused = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
               "message": "The conditional request failed", "Item": {"req": {"N": "5"}}}
    state.answers = [(400, refused)]
    with pytest.raises(DynamoError) as error:
        client(url).call("UpdateItem", {})
    assert error.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error.value.response["Item"] == {"req": {"N": "5"}}
    throttled = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow"}
    state.answers = [(400, throttled), (200, {"ok": True})]
    assert client(url).call("GetItem", {}) == {"ok": True}
    state.answers = [(500, {}), (500, {})]
    with pytest.raises(DynamoError, match="HTTP500"):
        client(url).call("GetItem", {})
    state.answers = [(400, {"__type": "com.amazon.coral.validate#ValidationException", "message": "bad"})]
    with pytest.raises(DynamoError, match="ValidationException: bad"):
        client(url).call("GetItem", {})
    assert state.answers == []


def test_an_unreachable_endpoint_raises_after_its_attempts() -> None:
    with pytest.raises(OSError):
        client("http://127.0.0.1:9").call("GetItem", {})
