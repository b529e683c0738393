"""Configuration from SSM Parameter Store: layout, caching, outages, round trips, and the app over it.

SSM is moto's, in process (``mock_aws``); the gateway under uvicorn in a thread of the same process
sees it too. SSM calls are counted with a botocore ``before-call`` hook on the store's client, which
can also be told to fail, to play an outage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import openai
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import ServerThread
from lambdagate.api import create_app
from lambdagate.auth import authenticate, generate_key, hash_key
from lambdagate.cli import main as cli
from lambdagate.config import load_store
from lambdagate.config import ssm as ssm_module
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.secrets import SecretUnavailable, resolve_secret
from lambdagate.config.ssm import (
    ERROR_RETRY_SECONDS,
    ConfigUnavailable,
    SsmConfigStore,
    SsmLayout,
    decode_name,
    encode_name,
)
from lambdagate.errors import AuthenticationFailed
from lambdagate.router import Router

PREFIX = "/lg-test"
OPENAI_SECRET = "sk-openai-secret-value-1"
VLLM_SECRET = "vllm-secret-value-2"
# Keys in the issued format: a store other than a file may refuse hand-written keys before a look-up.
DEV_KEY = generate_key()
DEV_KEY_SHA = hash_key(DEV_KEY)
OTHER_KEY = generate_key()

CONFIG_YAML = f"""
settings:
  num_retries: 1
  retry_backoff: 0.01
  fallbacks: {{claude-sonnet-4.5: [llama3.2:1b]}}
providers:
  openai: {{api_key: env:LG_TEST_OPENAI_KEY, organization: org-1}}
  mock: {{}}
  local-vllm: {{type: openai, api_base: http://127.0.0.1:9/v1, api_key: ssm:/external/vllm-key}}
models:
  claude-sonnet-4.5:
    - {{provider: openai, model: gpt-4o, weight: 3}}
    - {{provider: local-vllm, model: qwen, weight: 1, timeout: 30}}
  openai/gpt-4o: {{provider: openai, model: gpt-4o}}
  llama3.2:1b: {{provider: local-vllm, model: llama3.2:1b}}
  my_model: {{provider: mock, model: m}}
keys:
  - {{name: test, sha256: {DEV_KEY_SHA}}}
  - {{name: other, sha256: {hash_key(OTHER_KEY)}, models: [my_model, "mock/*"]}}
"""


class Clock:
    """A monotonic clock tests move by hand, so TTLs expire without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SsmCalls:
    """Records every SSM operation of a client and, when ``failure`` is set, raises it instead."""

    def __init__(self, client: Any) -> None:
        self.ops: list[str] = []
        self.failure: Exception | None = None
        client.meta.events.register("before-call.ssm", self._hook)

    def _hook(self, model: Any, **_: Any) -> None:
        self.ops.append(model.name)
        if self.failure is not None:
            raise self.failure

    def take(self) -> list[str]:
        ops, self.ops = self.ops, []
        return ops


@pytest.fixture
def aws(moto_aws: None) -> None:
    """Every test here runs against moto's in-process SSM (see conftest)."""


@pytest.fixture
def pushed(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileConfigStore:
    """CONFIG_YAML pushed under PREFIX with the CLI; returns the same config as a file store."""
    monkeypatch.setenv("LG_TEST_OPENAI_KEY", OPENAI_SECRET)
    boto3.client("ssm").put_parameter(Name="/external/vllm-key", Value=VLLM_SECRET, Type="SecureString")
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG_YAML)
    assert cli(["config", "push", str(path), "--prefix", PREFIX]) == 0
    return FileConfigStore.from_path(path)


def new_store(ttl: float = 300) -> tuple[SsmConfigStore, SsmCalls, Clock]:
    client = boto3.client("ssm")
    clock = Clock()
    return SsmConfigStore(PREFIX, ttl=ttl, client=client, clock=clock), SsmCalls(client), clock


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "simulated"}}, "GetParameters")


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "encoded"), [
    ("claude-sonnet-4.5", "claude-sonnet-4.5"),
    ("openai/gpt-4o", "openai_2Fgpt-4o"),
    ("llama3.2:1b", "llama3.2_3A1b"),
    ("my_model", "my_5Fmodel"),
    ("azure/gpt-4o/my deployment", "azure_2Fgpt-4o_2Fmy_20deployment"),
    ("modèle", "mod_C3_A8le"),
])
def test_alias_encoding_is_reversible_and_uses_only_ssm_characters(alias: str, encoded: str) -> None:
    assert encode_name(alias) == encoded
    assert decode_name(encoded) == alias
    assert set(encoded) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@pytest.mark.parametrize("segment", ["bad_", "bad_2", "bad_zz", "bad_2f", "x_FF"])
def test_decoding_rejects_what_encoding_never_produces(segment: str) -> None:
    with pytest.raises(ValueError):
        decode_name(segment)


def test_layout_names_and_classification() -> None:
    layout = SsmLayout.of("lambdagate/")
    assert layout.prefix == "/lambdagate"
    assert layout.model("openai/gpt-4o") == "/lambdagate/models/openai_2Fgpt-4o"
    assert layout.api_key("local-vllm") == "/lambdagate/providers/local-vllm/api_key"
    assert layout.classify("/lambdagate/models/llama3.2_3A1b") == ("model", "llama3.2:1b")
    assert layout.classify("/lambdagate/providers/a_2Fb/api_key") == ("api_key", "a/b")
    assert layout.classify("/lambdagate/keys/" + DEV_KEY_SHA) == ("key", DEV_KEY_SHA)
    assert layout.classify("/lambdagate/settings") == ("settings", "")
    for foreign in ("/lambdagate/keys/nothex", "/lambdagate/other", "/lambdagatex/settings", "/lambdagate/models/a/b"):
        assert layout.classify(foreign) is None
    for bad in ("", "/", "/has space", "/a//b"):
        with pytest.raises(ValueError):
            SsmLayout.of(bad)


# --- round trip -------------------------------------------------------------------------------


def test_pushed_config_is_served_the_same_by_the_ssm_store(pushed: FileConfigStore, monkeypatch) -> None:
    store, _, _ = new_store()
    assert store.settings() == pushed.settings()
    for record in pushed.config.keys:
        assert store.key(record.sha256) == record
    assert store.key(hash_key("sk-unknown")) is None
    assert sorted(store.aliases()) == sorted(pushed.aliases())
    for alias in pushed.aliases():
        assert store.deployments(alias) == pushed.deployments(alias)
    assert store.deployments("no-such-alias") is None
    for name in ("openai", "mock"):
        assert store.provider(name) == pushed.provider(name)
    openai_provider = store.provider("openai")
    assert openai_provider is not None
    assert openai_provider.api_key == OPENAI_SECRET and openai_provider.options == {"organization": "org-1"}
    vllm = store.provider("local-vllm")
    # Resolved at push time: the value was copied under the prefix, the function never reads /external.
    assert vllm is not None and vllm.api_key == VLLM_SECRET and vllm.type == "openai"
    assert store.provider("nope") is None

    # After the push the environment variable is gone: the stored SecureString still serves.
    monkeypatch.delenv("LG_TEST_OPENAI_KEY")
    assert store.provider("openai") == openai_provider
    raw = boto3.client("ssm").get_parameter(Name=f"{PREFIX}/providers/openai/api_key")["Parameter"]
    assert raw["Type"] == "SecureString" and raw["Value"] != OPENAI_SECRET  # stored encrypted
    assert isinstance(load_store(f"ssm:{PREFIX}"), SsmConfigStore)


def test_router_resolves_aliases_and_direct_names_from_ssm(pushed: FileConfigStore) -> None:
    store, _, _ = new_store()
    router = Router(store)
    key = authenticate(f"Bearer {OTHER_KEY}", store)
    assert router.check("my_model", key)[0].model == "m"
    assert router.check("mock/anything", key)[0].model == "anything"
    with pytest.raises(AuthenticationFailed):
        authenticate("Bearer sk-wrong", store)


def test_provider_reference_kept_in_its_json_is_resolved(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider parameter written by hand may name its key instead of having a SecureString."""
    client = boto3.client("ssm")
    client.put_parameter(Name=f"{PREFIX}/providers/p", Value='{"type": "openai", "api_key": "env:LG_P_KEY"}',
                         Type="String")
    client.put_parameter(Name=f"{PREFIX}/providers/q", Value='{"api_key": "ssm:/elsewhere/q"}', Type="String")
    client.put_parameter(Name="/elsewhere/q", Value="q-secret", Type="SecureString")
    monkeypatch.setenv("LG_P_KEY", "p-secret")
    store, _, clock = new_store()
    p, q = store.provider("p"), store.provider("q")
    assert p is not None and p.api_key == "p-secret"
    assert q is not None and q.api_key == "q-secret"
    assert store.provider("p") is p  # the same key: the same copy, not a new one per request
    # A rotated key takes effect: at once from the environment, after the TTL from SSM.
    monkeypatch.setenv("LG_P_KEY", "p-rotated")
    rotated = store.provider("p")
    assert rotated is not None and rotated.api_key == "p-rotated" and p.api_key == "p-secret"
    client.put_parameter(Name="/elsewhere/q", Value="q-rotated", Type="SecureString", Overwrite=True)
    clock.advance(301)
    q = store.provider("q")
    assert q is not None and q.api_key == "q-rotated"
    monkeypatch.delenv("LG_P_KEY")
    with pytest.raises(SecretUnavailable):
        store.provider("p")


# --- caching ----------------------------------------------------------------------------------


def test_lookups_are_cached_for_the_ttl(pushed: FileConfigStore) -> None:
    store, calls, clock = new_store(ttl=60)
    store.key(DEV_KEY_SHA)
    assert calls.take() == ["GetParameters"]  # the key, with settings along
    store.settings()
    store.key(DEV_KEY_SHA)
    assert calls.take() == []
    store.deployments("claude-sonnet-4.5")
    store.provider("openai")
    assert calls.take() == ["GetParameters", "GetParameters"]
    clock.advance(59)
    store.key(DEV_KEY_SHA), store.deployments("claude-sonnet-4.5"), store.provider("openai")
    assert calls.take() == []
    clock.advance(2)
    store.key(DEV_KEY_SHA)
    assert calls.take() == ["GetParameters"]


def test_ttl_comes_from_the_environment(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ssm_module.TTL_ENV, "7")
    assert SsmConfigStore(PREFIX).cache.ttl == 7
    monkeypatch.delenv(ssm_module.TTL_ENV)
    assert SsmConfigStore(PREFIX).cache.ttl == ssm_module.DEFAULT_TTL
    monkeypatch.setenv(ssm_module.TTL_ENV, "soon")
    with pytest.raises(ValueError, match="LAMBDAGATE_SSM_TTL"):
        SsmConfigStore(PREFIX)


def test_unknown_keys_are_cached_misses(pushed: FileConfigStore) -> None:
    store, calls, clock = new_store(ttl=60)
    guess = hash_key("sk-guess")
    for _ in range(5):
        assert store.key(guess) is None
    assert calls.take() == ["GetParameters"]
    # A key created meanwhile is seen once the miss expires.
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/keys/{guess}", Value=json.dumps(
        {"name": "late", "sha256": guess}), Type="String")
    assert store.key(guess) is None
    clock.advance(61)
    record = store.key(guess)
    assert record is not None and record.name == "late"
    assert store.key("not-a-hash") is None  # never looked up
    assert calls.take() == ["GetParameters"]


def test_changed_parameters_are_picked_up_after_the_ttl(pushed: FileConfigStore) -> None:
    store, _, clock = new_store(ttl=60)
    assert store.settings().num_retries == 1
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/settings", Value='{"num_retries": 4}', Type="String",
                                      Overwrite=True)
    assert store.settings().num_retries == 1
    clock.advance(61)
    assert store.settings().num_retries == 4


@pytest.mark.parametrize("failure", [
    client_error("ThrottlingException"),
    client_error("InternalServerError"),
    EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com"),
], ids=["throttled", "internal-error", "unreachable"])
def test_last_good_values_serve_through_an_ssm_outage(pushed: FileConfigStore, failure: Exception) -> None:
    store, calls, clock = new_store(ttl=60)
    warm = (store.key(DEV_KEY_SHA), store.settings(), store.deployments("llama3.2:1b"),
            store.provider("local-vllm"), store.aliases(), store.key(hash_key("sk-unknown")))
    calls.take()
    clock.advance(61)
    calls.failure = failure
    served = (store.key(DEV_KEY_SHA), store.settings(), store.deployments("llama3.2:1b"),
              store.provider("local-vllm"), store.aliases(), store.key(hash_key("sk-unknown")))
    assert served == warm
    assert calls.take()  # SSM was tried
    # Re-armed for a short while: the outage is not retried on every request.
    store.key(DEV_KEY_SHA)
    assert calls.take() == []
    # Nothing cached to fall back on: a 503, not a miss (a 401 for every key) and not a 500.
    with pytest.raises(ConfigUnavailable) as info:
        store.key(hash_key("sk-never-seen"))
    assert info.value.status == 503 and info.value.body()["error"]["code"] == "config_unavailable"
    with pytest.raises(ConfigUnavailable):
        SsmConfigStore(PREFIX, client=store.cache.client(), clock=clock).aliases()
    calls.take()
    # SSM is back: the next read after the retry delay refreshes.
    calls.failure = None
    clock.advance(ERROR_RETRY_SECONDS + 1)
    assert store.key(DEV_KEY_SHA) == warm[0]
    assert calls.take() == ["GetParameters"]


def test_a_malformed_parameter_is_a_503_and_its_value_is_not_logged(
        aws: None, caplog: pytest.LogCaptureFixture) -> None:
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/models/broken", Value='{"provider": "x", "secret-ish": ',
                                      Type="String")
    store, _, _ = new_store()
    with pytest.raises(ConfigUnavailable):
        store.deployments("broken")
    assert f"{PREFIX}/models/broken" in caplog.text and "secret-ish" not in caplog.text


# --- round trips ------------------------------------------------------------------------------


def test_prefetch_warms_a_cold_request_in_two_round_trips(pushed: FileConfigStore) -> None:
    store, calls, _ = new_store()
    store.prefetch(DEV_KEY_SHA, "claude-sonnet-4.5")
    assert calls.take() == ["GetParameters", "GetParameters"]
    # Everything the request reads is now cached, both deployments' providers with their keys.
    assert store.key(DEV_KEY_SHA) is not None
    store.settings()
    deployments = store.deployments("claude-sonnet-4.5")
    assert deployments is not None and len(deployments) == 2
    providers = [store.provider(d.provider) for d in deployments]
    assert [p.api_key for p in providers if p] == [OPENAI_SECRET, VLLM_SECRET]
    assert calls.take() == []
    store.prefetch(DEV_KEY_SHA, "claude-sonnet-4.5")  # warm: free
    assert calls.take() == []


def test_prefetch_of_a_direct_provider_name_takes_one_round_trip(pushed: FileConfigStore) -> None:
    store, calls, _ = new_store()
    store.prefetch(hash_key(OTHER_KEY), "mock/anything")
    assert calls.take() == ["GetParameters"]
    key = authenticate(f"Bearer {OTHER_KEY}", store)
    assert Router(store).check("mock/anything", key)[0].provider == "mock"
    assert store.provider("mock") is not None
    assert calls.take() == []


def test_without_prefetch_a_cold_request_is_still_correct(pushed: FileConfigStore) -> None:
    store, calls, _ = new_store()
    assert store.key(DEV_KEY_SHA) is not None and store.settings().num_retries == 1
    deployments = store.deployments("llama3.2:1b")
    assert deployments is not None and store.provider(deployments[0].provider) is not None
    assert calls.take() == ["GetParameters"] * 3  # key+settings, alias, provider+api_key


# --- secrets by reference ---------------------------------------------------------------------


def test_ssm_secret_references_are_decrypted_and_cached(aws: None) -> None:
    boto3.client("ssm").put_parameter(Name="/team/secret", Value="s3cr3t", Type="SecureString")
    assert resolve_secret("ssm:/team/secret") == "s3cr3t"
    calls = SsmCalls(ssm_module._default_cache().client())
    assert resolve_secret("ssm:/team/secret") == "s3cr3t"
    assert calls.take() == []
    with pytest.raises(SecretUnavailable, match="/team/missing"):
        resolve_secret("ssm:/team/missing")
    with pytest.raises(SecretUnavailable):
        resolve_secret("ssm:/team/missing")
    assert calls.take() == ["GetParameters"]  # the miss is cached too


# --- cold start -------------------------------------------------------------------------------


def _imported_by(code: str) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_importing_the_store_imports_neither_boto3_nor_powertools() -> None:
    imported = _imported_by("import lambdagate.config.ssm, lambdagate.config.store, lambdagate.cli")
    assert "lambdagate.config.ssm" in imported
    heavy = {name for name in imported if name.split(".")[0] in {"boto3", "botocore", "aws_lambda_powertools"}}
    assert heavy == set()


def test_reading_parameters_never_imports_powertools(pushed: FileConfigStore) -> None:
    """Plain boto3 GetParameters: Powertools Parameters (and its private methods) are not used at all."""
    store, calls, _ = new_store()
    store.prefetch(DEV_KEY_SHA, "claude-sonnet-4.5")
    assert store.aliases() and calls.take() == ["GetParameters", "GetParameters", "GetParametersByPath"]
    assert not [name for name in sys.modules if name.startswith("aws_lambda_powertools.utilities.parameters")]


def test_secrets_and_the_ssm_modules_do_not_import_each_other() -> None:
    """``secrets`` reaches the SSM cache only when an ``ssm:`` reference is resolved, never at import."""
    imported = _imported_by("import lambdagate.config.secrets")
    assert not {"lambdagate.config.ssm", "lambdagate.config.ssm_cache"} & imported
    for module in ("ssm_layout", "ssm_cache", "errors"):
        source = (Path(__file__).resolve().parents[1] / "layers/lambdagate/lambdagate/config" / f"{module}.py")
        text = source.read_text()
        assert "lambdagate.config.secrets" not in text and "lambdagate.config.ssm " not in text, module


def test_names_are_fetched_ten_to_a_call(aws: None) -> None:
    """GetParameters takes at most 10 names: a larger batch is split, and misses are cached as misses."""
    client = boto3.client("ssm")
    for index in range(13):
        client.put_parameter(Name=f"{PREFIX}/x/{index}", Value=str(index), Type="SecureString")
    calls = SsmCalls(client)
    cache = ssm_module.ParameterCache(ttl=60, client=client, clock=Clock())
    names = [f"{PREFIX}/x/{index}" for index in range(15)]
    entries = cache.get(names)
    assert calls.take() == ["GetParameters", "GetParameters"]
    assert [entries[name].raw for name in names] == [str(i) for i in range(13)] + [None, None]
    cache.get(names)
    assert calls.take() == []


# --- the app over SSM -------------------------------------------------------------------------


def test_the_app_serves_the_openai_sdk_from_ssm_config(pushed: FileConfigStore) -> None:
    store, calls, clock = new_store(ttl=60)
    with ServerThread(create_app(store)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DEV_KEY, max_retries=0, timeout=20)
        messages: Any = [{"role": "user", "content": "hello"}]
        first = client.chat.completions.create(model="my_model", messages=messages)
        assert first.choices[0].message.content == "You said: hello" and first.model == "m"
        # Cold: key + settings + alias in one call, the alias's provider and its key in another.
        assert calls.take() == ["GetParameters", "GetParameters"]

        # Warm: the key, alias and provider come from the cache.
        chunks = list(client.chat.completions.create(model="my_model", messages=messages, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hello"
        assert calls.take() == []

        assert sorted(m.id for m in client.models.list()) == sorted(pushed.aliases())
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url + "/v1", api_key="sk-wrong", max_retries=0).models.list()
        calls.take()

        # SSM fails after warm-up: the cached configuration keeps serving.
        clock.advance(61)
        calls.failure = client_error("ThrottlingException")
        again = client.chat.completions.create(model="my_model", messages=messages)
        assert again.choices[0].message.content == "You said: hello"
        assert sorted(m.id for m in client.models.list()) == sorted(pushed.aliases())
        # ...and what was never read answers 503, OpenAI-shaped.
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="llama3.2:1b", messages=messages)
        assert info.value.status_code == 503
        assert info.value.body["code"] == "config_unavailable"  # type: ignore[index]


def test_module_doc_examples_match_the_encoding() -> None:
    from lambdagate.config import ssm_layout

    doc = textwrap.dedent(ssm_layout.__doc__ or "")
    for alias in ("claude-sonnet-4.5", "openai/gpt-4o", "llama3.2:1b"):
        assert encode_name(alias) in doc


def test_reset_after_snapstart_restore_drops_cached_values_and_client(pushed: FileConfigStore) -> None:
    store = SsmConfigStore(PREFIX, region="us-east-1")  # its own client, as deployed
    assert store.key(DEV_KEY_SHA) is not None
    first_client = store.cache.client()
    store.reset()
    assert store.cache.client() is not first_client  # built anew: the snapshot's credentials may be stale
    calls = SsmCalls(store.cache.client())
    assert store.key(DEV_KEY_SHA) is not None
    assert calls.take() == ["GetParameters"]  # read again, not served from the snapshot's cache
