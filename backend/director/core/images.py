"""Images attached to a message: checked once at the edge, stored with the message, sent to vision models.

An image travels in Director's content-part shape, ``{"type": "image_url", "image_url": {"url": ...}}``,
with a ``data:`` URL (a pasted, dropped or chosen file). Remote URLs are refused: the provider would
fetch them, so a message could make it reach any address. Stored in the database with the message
(and the model's context), so the history shows them after a reload and a later turn can see them.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from director.errors import BadPayloadError

# Per image, decoded. Four of them still fit the transport's 16 MiB per Socket.IO message as base64.
MAX_IMAGE_BYTES = 3 * 1024 * 1024
MAX_IMAGES = 4
INVALID_IMAGE = "invalid_image"
NO_VISION = "model_without_vision"

# The formats every vision provider takes, by the bytes they start with.
_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_DATA_URL = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]+)")
OMITTED_TEXT = "[an image was attached here; this model cannot see images]"


def _url_of(part: dict[str, Any]) -> Any:
    image_url = part.get("image_url")
    return image_url.get("url") if isinstance(image_url, dict) else image_url


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def parse_image_part(part: dict[str, Any]) -> dict[str, Any]:
    """The part, normalised to ``{"type": "image_url", "image_url": {"url": <data URL>}}``, or
    ``BadPayloadError`` saying what is wrong."""
    url = _url_of(part)
    if not isinstance(url, str):
        raise BadPayloadError(
            INVALID_IMAGE, 'An image part must be {"type": "image_url", "image_url": {"url": ...}}.'
        )
    match = _DATA_URL.fullmatch(url.strip())
    if match is None:
        raise BadPayloadError(
            INVALID_IMAGE,
            "Images must be attached as data: URLs (paste, drop or choose a file); links to images are not fetched.",
        )
    mime, encoded = match.group(1), match.group(2)
    if mime not in _SIGNATURES:
        raise BadPayloadError(
            INVALID_IMAGE, f"{mime} is not supported: attach a PNG, JPEG, GIF or WebP image."
        )
    # Checked on the encoded size first, so an oversized image is refused without decoding it.
    if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise BadPayloadError(
            INVALID_IMAGE, f"An image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."
        )
    try:
        data = base64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
    except (binascii.Error, ValueError):
        raise BadPayloadError(INVALID_IMAGE, "An image's data is not valid base64.") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise BadPayloadError(
            INVALID_IMAGE, f"An image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."
        )
    if not data.startswith(_SIGNATURES[mime]):
        raise BadPayloadError(INVALID_IMAGE, f"An image's data is not a {mime} image.")
    normalised = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": normalised}}


def user_content(text: str, images: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A user message's content for the model: the text alone, or text and image parts."""
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    return parts + images


def without_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every image part replaced by a note (for a model without vision)."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(is_image_part(part) for part in content):
            texts = [part.get("text", "") if not is_image_part(part) else OMITTED_TEXT for part in content]
            message = {**message, "content": "\n\n".join(t for t in texts if t)}
        out.append(message)
    return out


def no_vision_message(model: object, vision_model: str | None) -> str:
    """Why images were refused before any call, and which model to pick instead."""
    name = (
        model
        if isinstance(model, str)
        else getattr(getattr(model, "config", None), "chat_model", "This model")
    )
    hint = (
        f"switch this chat to a vision model such as {vision_model}"
        if vision_model
        else "no allowed model can: add one to LITELLM_MODELS"
    )
    return f"{name} cannot see images: {hint}, or send the message without images."
