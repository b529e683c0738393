"""``gemini``: Google AI Gemini API (generateContent / streamGenerateContent)."""

from lambdagate.providers.gemini.adapter import GeminiProvider

PROVIDER = GeminiProvider()

__all__ = ["PROVIDER", "GeminiProvider"]
