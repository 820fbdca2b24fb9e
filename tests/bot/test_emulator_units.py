"""Pieces of the emulator without HTTP: the HTML parser, body decoding, queue rules, and the
spec validator used by the HTTP tests."""

from __future__ import annotations

import html

import pytest

from bot.emulator import BotApiEmulator, EntityParseError, UploadedFile, parse_html
from bot.emulator.body import parse_body, split_multipart
from bot.emulator.markup import strip_text
from tests.bot.api_spec import ApiSpec, load_spec, spec_path


@pytest.fixture(scope="module")
def spec() -> ApiSpec:
    if not spec_path().exists():
        pytest.skip(f"Bot API spec not found at {spec_path()} (set ZHITONG_BOT_API_SPEC)")
    return load_spec()


# ---------------------------------------------------------------------------- HTML
def test_html_plain_text_and_entities_in_utf16_units() -> None:
    text, entities = parse_html('😀 <b>粗<i>斜</i></b> <a href="https://x.cn/?a=1&amp;b=2">链接</a>')
    assert text == "😀 粗斜 链接"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},  # the emoji counts 2 UTF-16 units
        {"type": "italic", "offset": 4, "length": 1},
        {"type": "text_link", "offset": 6, "length": 2, "url": "https://x.cn/?a=1&b=2"},
    ]


def test_html_supported_subset() -> None:
    src = ("<strong>a</strong><em>b</em><ins>c</ins><u>d</u><s>e</s><strike>f</strike>"
           "<del>g</del><tg-spoiler>h</tg-spoiler><span class=\"tg-spoiler\">i</span>"
           "<code>j</code><pre><code class=\"language-python\">k</code></pre>"
           "<blockquote expandable>l</blockquote>&lt;&gt;&amp;&quot;&#20013;&#x6587;")
    text, entities = parse_html(src)
    assert text == 'abcdefghijkl<>&"中文'
    kinds = [e["type"] for e in entities]
    assert kinds == ["bold", "italic", "underline", "underline", "strikethrough",
                     "strikethrough", "strikethrough", "spoiler", "spoiler", "code", "pre",
                     "code", "expandable_blockquote"]
    assert next(e for e in entities if e["type"] == "pre")["language"] == "python"


@pytest.mark.parametrize(("src", "message"), [
    ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ("<b", "Unclosed start tag at byte offset 0"),
    ("中 & 文", 'Unescaped "&" at byte offset 4'),
    ("&nbsp;", 'Unescaped "&" at byte offset 0'),
    ("<br/>", 'Unsupported start tag "br/"'),
])
def test_html_errors(src: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(src)
    assert message in str(caught.value)


def test_escaped_user_text_always_round_trips() -> None:
    for user_text in ['<b>不是粗体</b>', 'a & b', '"引号" \'单\'', '&amp;', '<<>>', '1<2>0']:
        text, entities = parse_html(f"<i>{html.escape(user_text)}</i>")
        assert text == user_text and entities[0]["length"] == len(user_text)


def test_strip_text_moves_entities() -> None:
    assert strip_text("  <x> ", [{"type": "bold", "offset": 1, "length": 4}]) == (
        "<x>", [{"type": "bold", "offset": 0, "length": 3}])


# ---------------------------------------------------------------------------- bodies
def test_multipart_is_binary_safe_and_resolves_attach() -> None:
    boundary = "XyZ"
    payload = bytes(range(256)) + b"\r\n--XyZ-not-a-boundary\r\n"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n1\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nattach://f1\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--XyZ--\r\n")
    ctype = f"multipart/form-data; boundary={boundary}"
    assert len(split_multipart(ctype, body)) == 3
    parsed = parse_body(ctype, body)
    assert parsed.params["chat_id"] == "1"
    upload = parsed.params["photo"]
    assert isinstance(upload, UploadedFile) and upload.data == payload
    assert parsed.files == {}


def test_form_values_holding_json_are_decoded() -> None:
    parsed = parse_body("application/x-www-form-urlencoded",
                        b"chat_id=5&text=%7Bnot+json&reply_markup=%7B%22inline_keyboard%22%3A%5B%5D%7D",
                        {"allowed_updates": '["message"]'})
    assert parsed.params == {"chat_id": "5", "text": "{not json",
                             "reply_markup": {"inline_keyboard": []},
                             "allowed_updates": ["message"]}


# ---------------------------------------------------------------------------- queue rules
async def test_offsets_redelivery_and_wait_for_timeout() -> None:
    emu = BotApiEmulator()
    emu.add_user(1, "A")
    ids = [emu.send_text(1, f"m{i}") for i in range(4)]
    emu.confirm(-2)  # a negative offset keeps only the last two
    assert [u["update_id"] for u in emu.pending_updates()] == ids[2:]
    emu.confirm(ids[3] + 1)
    assert emu.pending_updates() == [] and emu.confirmed_offset == ids[3] + 1
    emu.redeliver(ids[0])
    emu.confirm(ids[3] + 1)  # not yet handed out again: the offset does not drop it
    assert [u["update_id"] for u in emu.pending_updates()] == [ids[0]]
    emu.mark_delivered(emu.deliverable(None))
    emu.confirm(ids[3] + 1)
    assert emu.is_confirmed(ids[0])
    forged = emu.inject_update({"update_id": 500, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 77, "type": "private", "first_name": "X"},
        "from": {"id": 77, "is_bot": False, "first_name": "X"}, "text": "raw"}})
    assert forged == 500 and 77 in emu.chats and emu.send_text(1, "next") == 501
    with pytest.raises(TimeoutError, match="bot message in chat 1"):
        await emu.wait_for_message(1, "never", timeout=0.05)


# ---------------------------------------------------------------------------- the spec
def test_spec_accepts_what_clients_send(spec: ApiSpec) -> None:
    assert spec.validate("sendMessage", {
        "chat_id": "1001", "text": "hi", "parse_mode": "HTML", "disable_notification": "true",
        "reply_markup": '{"inline_keyboard": [[{"text": "ok", "callback_data": "a:1"}]]}',
        "link_preview_options": {"is_disabled": True}}) == []
    assert spec.validate("sendmessage", {"chat_id": "@channel", "text": "x"}) == []
    upload = UploadedFile("photo", "p.jpg", "image/jpeg", b"x")
    assert spec.validate("sendPhoto", {"chat_id": 1, "photo": upload}) == []
    assert spec.validate("sendMediaGroup", {"chat_id": 1, "media": [
        {"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "id"}]}) == []
    assert spec.validate("setMyCommands", {
        "commands": [{"command": "start", "description": "开始"}],
        "scope": {"type": "chat", "chat_id": 5}}) == []
    assert spec.validate("getUpdates", {"offset": "-1", "allowed_updates": '["message"]'}) == []


def test_spec_catches_unknown_and_missing_fields(spec: ApiSpec) -> None:
    assert spec.validate("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"}) == [
        "sendMessage: unknown field 'colour'"]
    assert spec.validate("sendMessage", {"chat_id": 1}) == [
        "sendMessage: required field 'text' missing"]
    assert spec.validate("sendTelepathy", {}) == [f"sendTelepathy: no such method in {spec.version}"]


def test_spec_checks_types_recursively(spec: ApiSpec) -> None:
    problems = spec.validate("sendMessage", {"chat_id": 1, "text": "x",
                                             "disable_notification": "maybe"})
    assert problems == ["sendMessage.disable_notification: expected Boolean, got str 'maybe'"]
    assert spec.validate("sendMessage", {"chat_id": 1.5, "text": "x"}) == [
        "sendMessage.chat_id: expected Integer or String, got float 1.5"]
    nested = spec.validate("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": {
        "inline_keyboard": [[{"text": "a", "callback_data": "b", "bogus": 1}]]}})
    assert len(nested) == 1 and "unknown field 'bogus'" in nested[0]
    flat = spec.validate("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": {
        "inline_keyboard": [{"text": "a", "callback_data": "b"}]}})
    assert flat and "expected Array of InlineKeyboardButton" in flat[0]
    wrong_kind = spec.validate("sendMediaGroup", {"chat_id": 1, "media": [
        {"type": "sticker", "media": "x"}, {"type": "photo", "media": "y"}]})
    assert wrong_kind and "media[0]" in wrong_kind[0]
    assert spec.validate("sendPhoto", {"chat_id": 1}) == [
        "sendPhoto: required field 'photo' missing"]
    with pytest.raises(AssertionError, match="unknown field 'colour'"):
        spec.assert_valid("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"})


def test_a_person_edits_their_own_text_or_caption_only() -> None:
    emu = BotApiEmulator(token="1:T", username="b")
    emu.add_user(11, "甲")
    emu.add_user(12, "乙")
    first = emu.send_text(11, "第一稿")
    mid = emu.update(first)["message"]["message_id"]
    edit = emu.edit_text(11, mid, "/help 第二稿")
    edited = emu.update(edit)["edited_message"]
    assert (edited["message_id"], edited["text"]) == (mid, "/help 第二稿")
    assert edited["edit_date"] >= edited["date"]
    assert edited["entities"][0]["type"] == "bot_command"  # entities follow the new text
    assert emu.message(11, mid)["text"] == "/help 第二稿"  # type: ignore[index]
    photo = emu.send_photo(11, caption="现场照片")
    pid = emu.update(photo)["message"]["message_id"]
    assert emu.update(emu.edit_text(11, pid, "北门现场"))["edited_message"]["caption"] == "北门现场"
    with pytest.raises(KeyError):
        emu.edit_text(12, mid, "不是我的", chat_id=11)  # someone else's message
    with pytest.raises(KeyError):
        emu.edit_text(11, 999, "没有这条")
    sticker = emu.send_sticker(11)
    with pytest.raises(KeyError):
        emu.edit_text(11, emu.update(sticker)["message"]["message_id"], "贴纸没有文字")
