"""``azure``: Azure OpenAI, the OpenAI wire format behind a deployment path, ``api-version`` and Azure auth."""

from lambdagate.providers.azure.adapter import AzureOpenAIProvider

PROVIDER = AzureOpenAIProvider()

__all__ = ["PROVIDER", "AzureOpenAIProvider"]
