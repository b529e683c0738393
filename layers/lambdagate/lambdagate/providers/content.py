"""Reading OpenAI message content for providers that take plain text where OpenAI allows parts."""

from __future__ import annotations

from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.types import ContentPart, ImagePart, TextPart


def text_only(
    content: str | list[ContentPart] | None, param: str, provider_type: str, *, separator: str = ""
) -> str:
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


def text_and_image_parts(
    content: str | list[ContentPart], param: str, provider_type: str
) -> str | list[dict[str, Any]]:
    """OpenAI's text and image_url parts as they are, for providers that take OpenAI's own shapes.

    What such a provider cannot read (audio, files) is refused with a 400 naming the part.
    """
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.image_url.url}
            if part.image_url.detail:
                image["detail"] = part.image_url.detail
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(f"Content parts of type '{part.type}' are not supported by the '{provider_type}' "
                                 "provider.", param=f"{param}.content[{index}]")
    return parts
