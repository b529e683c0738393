"""Reading OpenAI message content for providers that take plain text where OpenAI allows parts."""

from __future__ import annotations

from lambdagate.errors import InvalidRequest
from lambdagate.types import ContentPart, TextPart


def text_only(content: str | list[ContentPart] | None, param: str, provider_type: str, *, separator: str = "") -> str:
    """The text of a message whose content may be a string or a list of text parts.

    Any other part (image, audio, file) is refused with a 400 naming the message, because
    silently dropping it would answer a different question than the one asked.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if not isinstance(part, TextPart):
            raise InvalidRequest(
                f"The '{provider_type}' provider takes only text in this message, not '{part.type}' parts.",
                param=param,
            )
        texts.append(part.text)
    return separator.join(texts)
