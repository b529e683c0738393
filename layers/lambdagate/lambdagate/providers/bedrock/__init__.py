"""``bedrock``: AWS Bedrock Runtime Converse / ConverseStream through boto3 and the function's role."""

from lambdagate.providers.bedrock.adapter import BedrockProvider

PROVIDER = BedrockProvider()

__all__ = ["PROVIDER", "BedrockProvider"]
