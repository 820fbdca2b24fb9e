"""Telegram's HTML formatting subset, parsed the way the Bot API does.

`parse_html` turns formatted text into what the person sees (plain text) plus MessageEntity
dicts (offsets in UTF-16 code units, as Telegram counts them), and rejects what Telegram
rejects with the same wording ("Unsupported start tag ...", "Unmatched end tag ...",
"Can't find end tag corresponding to start tag ..."). It is deliberately stricter than
Telegram about one thing: a bare "&" that does not start &lt; &gt; &amp; &quot; or a numeric
reference is an error, so tests can prove that user text is always escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SUPPORTED_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji", "tg-time",
})
_ENTITY_TYPE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote", "a": "text_link", "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_UNQUOTED_VALUE = re.compile(r"[A-Za-z0-9.\-]+")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str() is the part after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    start16: int
    src_index: int


def _decode_entity(src: str, i: int) -> tuple[str, int]:
    m = _ENTITY_RE.match(src, i)
    if m is None:
        raise EntityParseError(
            f'Unescaped "&" at byte offset {_byte_offset(src, i)}; '
            "use &amp; (the emulator is strict here on purpose)")
    if m.group(1):
        return _NAMED[m.group(1)], m.end()
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(f"Invalid character reference at byte offset {_byte_offset(src, i)}")
    return chr(code), m.end()


def _is_space(ch: str) -> bool:
    return ch in " \t\r\n"


def _parse_attributes(src: str, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Attributes of a start tag from `i`; returns them and the index just past '>'."""
    attrs: dict[str, str] = {}
    n = len(src)
    while True:
        while i < n and _is_space(src[i]):
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        if src[i] == ">":
            return attrs, i + 1
        name_start = i
        while i < n and not _is_space(src[i]) and src[i] not in "=>":
            i += 1
        name = src[name_start:i].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(src, begin)}')
        while i < n and _is_space(src[i]):
            i += 1
        if i < n and src[i] == "=":
            i += 1
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            if src[i] in "'\"":
                quote = src[i]
                i += 1
                parts: list[str] = []
                while i < n and src[i] != quote:
                    if src[i] == "&":
                        ch, i = _decode_entity(src, i)
                        parts.append(ch)
                    else:
                        parts.append(src[i])
                        i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
                i += 1
                attrs[name] = "".join(parts)
            else:
                m = _UNQUOTED_VALUE.match(src, i)
                if m is None:
                    raise EntityParseError(
                        f'Expected quote in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(src, begin)}")
                attrs[name] = m.group(0)
                i = m.end()
        else:
            # Valueless attributes exist in Telegram HTML (<blockquote expandable>).
            attrs[name] = ""


def _entity_for(open_: _Open, length: int, inner_code_language: str | None) -> dict[str, Any]:
    kind = _ENTITY_TYPE[open_.tag]
    entity: dict[str, Any] = {"type": kind, "offset": open_.start16, "length": length}
    if open_.tag == "a":
        href = open_.attrs.get("href", "")
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            entity = {"type": "text_mention", "offset": open_.start16, "length": length,
                      "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""}}
        else:
            entity["url"] = href
    elif open_.tag == "pre" and inner_code_language:
        entity["language"] = inner_code_language
    elif open_.tag == "blockquote" and "expandable" in open_.attrs:
        entity["type"] = "expandable_blockquote"
    elif open_.tag == "tg-emoji":
        entity["custom_emoji_id"] = open_.attrs.get("emoji-id", "")
    elif open_.tag == "tg-time":
        entity["unix_time"] = int(open_.attrs.get("unix", "0") or 0)
        if open_.attrs.get("format"):
            entity["date_time_format"] = open_.attrs["format"]
    return entity


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of Telegram HTML, or EntityParseError."""
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[tuple[int, dict[str, Any]]] = []  # (nesting depth, entity)
    code_language: dict[int, str] = {}  # id(pre _Open) -> language of an inner <code class=>
    n = len(src)
    i = 0
    while i < n:
        ch = src[i]
        if ch == "&":
            decoded, i = _decode_entity(src, i)
            out.append(decoded)
            pos16 += utf16_len(decoded)
            continue
        if ch != "<":
            out.append(ch)
            pos16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if i + 1 < n and src[i + 1] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
            i += 2
            name_start = i
            while i < n and not _is_space(src[i]) and src[i] != ">":
                i += 1
            end_name = src[name_start:i].lower()
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n or src[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
            i += 1
            top = stack[-1]
            if end_name and end_name != top.tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{top.tag}>", found "</{end_name}>"')
            stack.pop()
            length = pos16 - top.start16
            if top.tag == "code" and stack and stack[-1].tag == "pre":
                cls = top.attrs.get("class", "")
                if cls.startswith("language-"):
                    code_language[id(stack[-1])] = cls[len("language-"):]
            if length > 0:
                entities.append((len(stack),
                                 _entity_for(top, length, code_language.get(id(top)))))
            continue
        i += 1
        name_start = i
        while i < n and not _is_space(src[i]) and src[i] != ">":
            i += 1
        tag = src[name_start:i].lower()
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        if tag not in SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}')
        attrs, i = _parse_attributes(src, i, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(src, begin)}')
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{_byte_offset(src, begin)}")
        stack.append(_Open(tag=tag, attrs=attrs, start16=pos16, src_index=begin))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    # Telegram lists entities by offset, the outer one first when two cover the same text.
    entities.sort(key=lambda d_e: (d_e[1]["offset"], -d_e[1]["length"], d_e[0]))
    return "".join(out), [entity for _, entity in entities]


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace from message text; entities follow the trim."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def command_entities(text: str) -> list[dict[str, Any]]:
    """A bot_command entity for a leading /command, as Telegram adds to user messages."""
    m = re.match(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?", text)
    if m is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}]
