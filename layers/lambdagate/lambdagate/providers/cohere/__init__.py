"""``cohere``: Cohere's v2 Chat API (api.cohere.com or a private deployment's ``api_base``)."""

from lambdagate.providers.cohere.adapter import CohereProvider

PROVIDER = CohereProvider()

__all__ = ["PROVIDER", "CohereProvider"]
