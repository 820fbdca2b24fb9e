"""Decoding Bot API request bodies: query string, urlencoded form, multipart form and JSON.

Telegram accepts all of them for every method, and clients differ: aiogram posts multipart
forms, python-telegram-bot posts urlencoded forms (multipart when it uploads), curl users post
JSON. Values that are objects or arrays arrive JSON-encoded inside form fields, so the fields
known to carry JSON are decoded here; everything else stays as sent (strings for forms), and
the method implementations coerce what they need.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from dataclasses import dataclass, field
from email.message import Message as _HeaderParser
from typing import Any
from urllib.parse import parse_qsl

# Fields whose form value is a JSON-serialized object or array (Bot API "JSON-serialized ...").
JSON_FIELDS = frozenset({
    "reply_markup", "media", "allowed_updates", "entities", "caption_entities", "commands",
    "scope", "link_preview_options", "reply_parameters", "results", "menu_button", "rights",
    "permissions", "options", "explanation_entities", "prices", "reaction", "shipping_options",
    "errors", "input_message_content", "mask_position", "stickers",
    "suggested_post_parameters", "button", "rich_message", "checklist", "question_entities",
    "text_entities", "areas", "content", "photo_entities", "accepted_gift_types",
})

ATTACH_PREFIX = "attach://"


@dataclass
class UploadedFile:
    """A file part of a multipart request, kept with its bytes."""

    part_name: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    def to_json(self) -> dict[str, Any]:
        return {"upload": self.filename, "part": self.part_name, "size": self.size,
                "content_type": self.content_type}


class BodyError(ValueError):
    """The body cannot be decoded; answered as 400 like Telegram does."""


@dataclass
class ParsedBody:
    params: dict[str, Any]
    # Uploads referenced through "attach://name" (media groups) stay here, keyed by part name.
    files: dict[str, UploadedFile]


def _header_param(header_value: str, header: str, name: str) -> str | None:
    msg = _HeaderParser()
    msg[header] = header_value
    value = msg.get_param(name, header=header)
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 encoded: (charset, language, text)
        return str(value[2])
    return str(value)


def split_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart body as (lower-cased headers, raw bytes); binary-safe.

    A delimiter only counts at the start of a line and when followed by CRLF or "--", so part
    content that merely contains the boundary text is left alone.
    """
    boundary = _header_param(content_type, "content-type", "boundary")
    if not boundary:
        raise BodyError("multipart body without boundary")
    delimiter = re.compile(rb"(?:\A|\r\n)--" + re.escape(boundary.encode("latin-1"))
                           + rb"(--)?[ \t]*(?:\r\n|\Z)")
    marks = list(delimiter.finditer(body))
    parts: list[tuple[dict[str, str], bytes]] = []
    for here, nxt in itertools.pairwise(marks):
        if here.group(1):  # the closing delimiter
            break
        chunk = body[here.end():nxt.start()]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            if chunk.startswith(b"\r\n"):  # a part without headers
                head, content = b"", chunk[2:]
            else:
                raise BodyError("malformed multipart part")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


def decode_json_fields(params: dict[str, Any]) -> None:
    """Decode JSON-serialized values in place; undecodable values stay strings."""
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)


def parse_body(content_type: str, body: bytes, query: dict[str, str] | None = None) -> ParsedBody:
    """Merge query-string parameters with the decoded body (the body wins, as in Telegram)."""
    params: dict[str, Any] = dict(query or {})
    uploads: dict[str, UploadedFile] = {}
    mime = content_type.split(";", 1)[0].strip().lower()
    if body:
        if mime == "application/json":
            try:
                decoded = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise BodyError(f"can't parse JSON body: {exc}") from exc
            if not isinstance(decoded, dict):
                raise BodyError("JSON body must be an object")
            params.update(decoded)
        elif mime == "multipart/form-data":
            for headers, content in split_multipart(content_type, body):
                disposition = headers.get("content-disposition", "")
                name = _header_param(disposition, "content-disposition", "name")
                if name is None:
                    continue
                filename = _header_param(disposition, "content-disposition", "filename")
                if filename is not None:
                    uploads[name] = UploadedFile(
                        part_name=name, filename=filename or name,
                        content_type=headers.get("content-type", "application/octet-stream"),
                        data=content)
                else:
                    params[name] = content.decode("utf-8", "replace")
        elif mime in ("application/x-www-form-urlencoded", ""):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BodyError("form body is not UTF-8") from exc
            params.update(parse_qsl(text, keep_blank_values=True))
        else:
            raise BodyError(f"unsupported content type {mime!r}")
    decode_json_fields(params)
    # Top-level "attach://name" values and file parts named like a parameter both mean: this
    # parameter is that upload. Anything else stays in `files` for media arrays.
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith(ATTACH_PREFIX):
            ref = value[len(ATTACH_PREFIX):]
            if ref in uploads:
                params[key] = uploads.pop(ref)
    for name in list(uploads):
        if name not in params and not _referenced(params, name):
            params[name] = uploads.pop(name)
    return ParsedBody(params=params, files=uploads)


def _referenced(params: dict[str, Any], name: str) -> bool:
    target = ATTACH_PREFIX + name

    def walk(value: Any) -> bool:
        if isinstance(value, str):
            return value == target
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(walk(v) for v in params.values())


def jsonable(value: Any) -> Any:
    """Recorded parameters as JSON (uploads summarised, bytes never dumped)."""
    if isinstance(value, UploadedFile):
        return value.to_json()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    return value
