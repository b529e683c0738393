"""OpenAI-compatible services known by name: a provider type that is only data.

``providers: {groq: {api_key: env:GROQ_API_KEY}}`` needs no ``type`` and no ``api_base``: the
name (or ``type``) is looked up here and served by the ``openai`` adapter at the preset's base
URL. A configured ``api_base`` still wins. Adding a service is one line in :data:`PRESETS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    adapter: str
    """The provider type that serves it."""
    api_base: str


PRESETS: dict[str, Preset] = {
    "groq": Preset("openai", "https://api.groq.com/openai/v1"),
    "together": Preset("openai", "https://api.together.xyz/v1"),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1"),
    "fireworks": Preset("openai", "https://api.fireworks.ai/inference/v1"),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1"),
    "cerebras": Preset("openai", "https://api.cerebras.ai/v1"),
    "ollama": Preset("openai", "http://127.0.0.1:11434/v1"),
}
