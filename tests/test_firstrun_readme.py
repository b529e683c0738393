"""Every model the README's examples call works on the example config as written: it is an alias
of gateway.example.yaml served by the `mock` provider, which needs no key (any other answers 503
in the quickstart until its provider's key is set)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
EXAMPLE = yaml.safe_load((ROOT / "gateway.example.yaml").read_text())


def _examples() -> list[tuple[str, str]]:
    """(where, code) of each runnable example: js/python/bash blocks, and inline `curl`/`lambdagate` commands."""
    blocks = [(f"```{lang} block", code) for lang, code in re.findall(r"```(js|python|bash)\n(.*?)```", README, re.S)]
    inline = [("inline command", code) for code in re.findall(r"`((?:curl|lambdagate smoke) [^`]+)`", README)]
    return blocks + inline


def _models(code: str) -> list[str]:
    return re.findall(r"""["']?model["']?\s*[:=]\s*\\?["']([^"'\\]+)\\?["']""", code)


def test_the_examples_name_models() -> None:
    named = [model for _, code in _examples() for model in _models(code)]
    assert len(named) >= 4, named  # python (twice), js, curl: the pattern still finds them
    assert any("js" in where for where, code in _examples() if _models(code))


@pytest.mark.parametrize(("where", "code"), _examples())
def test_each_example_model_answers_on_the_example_config(where: str, code: str) -> None:
    for model in _models(code):
        assert model in EXAMPLE["models"], f"{where}: {model!r} is not an alias of gateway.example.yaml"
        deployments = EXAMPLE["models"][model]
        for deployment in deployments if isinstance(deployments, list) else [deployments]:
            provider = EXAMPLE["providers"][deployment["provider"]]
            assert provider.get("type", deployment["provider"]) == "mock", (
                f"{where}: {model!r} needs provider {deployment['provider']!r}, which answers 503 without its key")
