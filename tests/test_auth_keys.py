"""Client key format: a malformed or random key is a 401 that costs the configuration store nothing.

The app is driven over HTTP (Starlette's test client) with a store that counts every call made to
it; the Lambda handler with the events/ files and the SSM layout is exercised in test_functions.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from conftest import make_config
from lambdagate.api import create_app
from lambdagate.auth import generate_key, hash_key, key_shape
from lambdagate.auth.keys import KEY_PREFIX, LEGACY_KEYS_ENV, KeyShape
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import Deployment, GatewayConfig, KeyRecord, ProviderConfig, Settings

CHAT = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
LEGACY_KEY = KEY_PREFIX + secrets.token_urlsafe(32)  # the format `keys create` made before the checksum
CURRENT_KEY = generate_key()


class CountingStore:
    """A remote-like store (not a file store): every method call is counted, as SSM would bill it."""

    def __init__(self, config: GatewayConfig) -> None:
        self.inner = FileConfigStore(config)
        self.calls: list[str] = []

    def settings(self) -> Settings:
        self.calls.append("settings")
        return self.inner.settings()

    def key(self, sha256: str) -> KeyRecord | None:
        self.calls.append("key")
        return self.inner.key(sha256)

    def deployments(self, alias: str) -> list[Deployment] | None:
        self.calls.append("deployments")
        return self.inner.deployments(alias)

    def provider(self, name: str) -> ProviderConfig | None:
        self.calls.append("provider")
        return self.inner.provider(name)

    def aliases(self) -> list[str]:
        self.calls.append("aliases")
        return self.inner.aliases()

    def prefetch(self, sha256: str | None = None, model: str | None = None) -> None:
        self.calls.append(f"prefetch:{'key' if sha256 else 'none'}")


def config() -> GatewayConfig:
    data = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}}).model_dump(
        mode="json", exclude_none=True)
    data["keys"] += [{"name": "current", "sha256": hash_key(CURRENT_KEY)},
                     {"name": "legacy", "sha256": hash_key(LEGACY_KEY)}]
    return GatewayConfig.model_validate(data)


@pytest.fixture
def counting() -> Iterator[tuple[TestClient, CountingStore]]:
    store = CountingStore(config())
    with TestClient(create_app(store)) as client:
        yield client, store


def random_and_malformed_keys() -> list[str]:
    alphabet = string.ascii_letters + string.digits
    current = generate_key()
    flipped = current[:-1] + ("A" if current[-1] != "A" else "B")  # checksum no longer matches
    return [
        flipped,
        current[:-1],                                                  # one character short
        current + "x",                                                 # one too many
        current.replace("sk-lg-", "sk-lg_"),                           # wrong prefix separator: free-form
        KEY_PREFIX + "".join(secrets.choice(alphabet) for _ in range(49)),  # right length, random checksum
        KEY_PREFIX + secrets.token_urlsafe(16),                        # legacy prefix, wrong length
        KEY_PREFIX + secrets.token_urlsafe(32)[:-1] + "!",             # legacy length, bad character
        KEY_PREFIX,
        "sk-" + secrets.token_urlsafe(36),                             # an OpenAI-looking key
        "sk-proj-" + secrets.token_urlsafe(48),
        secrets.token_hex(32),
        secrets.token_urlsafe(8),
        "sk-lambdagate-dev",                                           # the dev key: never on a remote store
        "sk-test-key",
        "x" * 5000,
        "null",
        "Bearer",
        "' OR 1=1 --",
        "sk-lg-" + "0" * 49,                                           # all zeros: checksum wrong
        current.lower(),
    ]


def test_generated_keys_have_prefix_random_part_and_checksum() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 43 + 6
        assert key[len(KEY_PREFIX):].isalnum() and key_shape(key) is KeyShape.CURRENT
    assert key_shape(LEGACY_KEY) is KeyShape.LEGACY
    assert key_shape("sk-lambdagate-dev") is KeyShape.FREE_FORM


def test_random_and_malformed_keys_cost_no_store_lookup(counting: tuple[TestClient, CountingStore]) -> None:
    client, store = counting
    keys = random_and_malformed_keys()
    assert len(keys) == 20
    for key in keys:
        for method, path, body in (("POST", "/v1/chat/completions", CHAT), ("GET", "/v1/models", None),
                                   ("GET", "/v1/models/mock-gpt", None)):
            response = client.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 401, (key, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_api_key" and error["message"] == "Incorrect API key provided."
            assert len(key) < 8 or key not in response.text  # no part of a key is echoed
    assert store.calls == []  # not a key look-up, not even the model's alias or the settings


def test_a_current_key_is_screened_and_hashed_once_a_request(counting: tuple[TestClient, CountingStore],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefetch's screening (a CRC32 checksum) and hash serve the look-up too."""
    from lambdagate.auth import keys

    client, store = counting
    checked: list[str] = []
    hashed: list[str] = []
    real_shape, real_hash = keys.key_shape, keys.hash_key
    monkeypatch.setattr(keys, "key_shape", lambda key: checked.append(key) or real_shape(key))
    monkeypatch.setattr(keys, "hash_key", lambda key: hashed.append(key) or real_hash(key))
    response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {CURRENT_KEY}"})
    assert response.status_code == 200, response.text
    assert checked == hashed == [CURRENT_KEY]
    assert store.calls.count("key") == 1


def test_missing_key_costs_no_store_lookup(counting: tuple[TestClient, CountingStore]) -> None:
    client, store = counting
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 401
    assert client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Basic abc"}).status_code == 401
    assert store.calls == []


def test_current_and_legacy_keys_keep_working(counting: tuple[TestClient, CountingStore]) -> None:
    client, store = counting
    for key in (CURRENT_KEY, LEGACY_KEY):
        response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "You said: hi"
    assert store.calls.count("prefetch:key") == 2 and store.calls.count("key") == 2


def test_legacy_keys_can_be_switched_off(counting: tuple[TestClient, CountingStore],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client, store = counting
    monkeypatch.setenv(LEGACY_KEYS_ENV, "off")
    response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {LEGACY_KEY}"})
    assert response.status_code == 401
    assert store.calls == []
    ok = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {CURRENT_KEY}"})
    assert ok.status_code == 200


def test_hand_written_keys_work_with_a_file_config() -> None:
    """The dev key and the tests' keys: a file store holds every key in memory, so looking them up is free."""
    data = config().model_dump(mode="json", exclude_none=True)
    data["keys"].append({"name": "dev", "sha256": hashlib.sha256(b"sk-lambdagate-dev").hexdigest()})
    with TestClient(create_app(FileConfigStore(GatewayConfig.model_validate(data)))) as client:
        for key in ("sk-lambdagate-dev", "sk-test-key", CURRENT_KEY, LEGACY_KEY):
            response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, (key, response.text)
        assert client.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
