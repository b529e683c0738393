"""The repository stands alone: the OpenAI schemas the tests validate against are vendored, and in
step with the project's copy of record (``shared/openai-spec/schemas.json``) where it is beside the clone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import openai_schema

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "openai-spec" / "schemas.json"


def test_the_vendored_schemas_are_used_without_anything_beside_the_repository(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(openai_schema.SPEC_ENV, raising=False)
    assert openai_schema.spec_path() == openai_schema.VENDORED
    assert openai_schema.VENDORED.is_relative_to(ROOT)
    schemas = json.loads(openai_schema.VENDORED.read_text(encoding="utf-8"))["components"]["schemas"]
    assert {"CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "CreateCompletionResponse",
            "ListModelsResponse", "ErrorResponse", "CreateEmbeddingResponse", "Response"} <= set(schemas)


def test_the_override_wins_and_a_wrong_one_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "schemas.json"
    copy.write_bytes(openai_schema.VENDORED.read_bytes())
    monkeypatch.setenv(openai_schema.SPEC_ENV, str(copy))
    assert openai_schema.spec_path() == copy
    monkeypatch.setenv(openai_schema.SPEC_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        openai_schema.spec_path()


@pytest.mark.skipif(not SHARED.is_file(), reason=f"{SHARED} is not beside this clone: nothing to compare with")
def test_the_vendored_copy_matches_the_shared_one() -> None:
    assert openai_schema.VENDORED.read_bytes() == SHARED.read_bytes(), (
        "tests/openai-spec/schemas.json differs from shared/openai-spec/schemas.json; refresh it: "
        "cp ../shared/openai-spec/schemas.json tests/openai-spec/schemas.json")
