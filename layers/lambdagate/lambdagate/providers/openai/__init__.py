"""``openai``: api.openai.com and every OpenAI-compatible server (vLLM, Ollama, Groq, Together...)."""

from lambdagate.providers.openai.adapter import OpenAIProvider

PROVIDER = OpenAIProvider()

__all__ = ["PROVIDER", "OpenAIProvider"]
