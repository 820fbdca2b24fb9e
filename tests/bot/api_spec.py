"""Check recorded Bot API requests against the published spec (../shared/telegram-bot-api).

The spec is read in place (never copied into the project): `$ZHITONG_BOT_API_SPEC`, else
`<repository>/../shared/telegram-bot-api/api.json`.

    spec = load_spec()
    spec.validate("sendMessage", {"chat_id": "1", "text": "hi"})  # -> [] or a list of problems
    spec.assert_valid_requests(emu.requests)                      # AssertionError listing all

A request is valid when the method exists, every required field is present, no field is
unknown, and every value matches one of the field's types, recursively through objects
(InlineKeyboardMarkup, InputMedia*, BotCommandScope …). Form-encoded values are strings, so
"123" counts as an Integer, "true" as a Boolean, and a JSON string as the object it encodes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.emulator import UploadedFile

DEFAULT_SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "telegram-bot-api" / "api.json"
_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_MAX_DEPTH = 12


def spec_path() -> Path:
    override = os.environ.get("ZHITONG_BOT_API_SPEC")
    return Path(override) if override else DEFAULT_SPEC


@dataclass(frozen=True)
class ApiSpec:
    version: str
    methods: dict[str, Any]
    types: dict[str, Any]

    def method(self, name: str) -> dict[str, Any] | None:
        """The spec entry of a method; Telegram matches names case-insensitively."""
        if name in self.methods:
            return self.methods[name]
        low = name.lower()
        return next((m for k, m in self.methods.items() if k.lower() == low), None)

    # ---------------------------------------------------------------- requests
    def validate(self, method: str, params: dict[str, Any]) -> list[str]:
        """Problems with one request; an empty list means it matches the spec."""
        entry = self.method(method)
        if entry is None:
            return [f"{method}: no such method in {self.version}"]
        return self._check_fields(method, entry.get("fields", []), params, 0)

    def validate_request(self, request: Any) -> list[str]:
        """A RecordedRequest (anything with .method and .params)."""
        return self.validate(request.method, request.params)

    def assert_valid(self, method: str, params: dict[str, Any]) -> None:
        problems = self.validate(method, params)
        assert not problems, "\n".join(problems)

    def assert_valid_requests(self, requests: Iterable[Any]) -> int:
        """Every request valid, else one AssertionError listing each problem; returns the
        number checked."""
        problems: list[str] = []
        count = 0
        for req in requests:
            count += 1
            problems.extend(f"#{getattr(req, 'index', count)} {p}"
                            for p in self.validate_request(req))
        assert not problems, "requests not matching the Bot API spec:\n" + "\n".join(problems)
        return count

    # ---------------------------------------------------------------- values
    def _check_fields(self, where: str, fields: list[dict[str, Any]], value: dict[str, Any],
                      depth: int) -> list[str]:
        problems: list[str] = []
        known = {f["name"]: f for f in fields}
        for name in value:
            if name not in known:
                problems.append(f"{where}: unknown field {name!r}")
        for name, field in known.items():
            if name not in value or value[name] is None:
                if field.get("required"):
                    problems.append(f"{where}: required field {name!r} missing")
                continue
            problems.extend(self._check_any(f"{where}.{name}", field["types"], value[name],
                                            depth + 1))
        return problems

    def _check_any(self, where: str, types: list[str], value: Any, depth: int) -> list[str]:
        best: list[str] | None = None
        for type_name in types:
            problems = self._check(where, type_name, value, depth)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        if (len(types) > 1 and best is not None and len(best) == 1
                and best[0].startswith(f"{where}: expected")):
            return [f"{where}: expected {' or '.join(types)}, got {_show(value)}"]
        return best or []

    def _check(self, where: str, type_name: str, value: Any, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []
        if type_name.startswith("Array of "):
            value = _maybe_json(value)
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}, got {_show(value)}"]
            inner = type_name[len("Array of "):]
            out: list[str] = []
            for i, item in enumerate(value):
                out.extend(self._check(f"{where}[{i}]", inner, item, depth + 1))
            return out
        primitive = _check_primitive(type_name, value)
        if primitive is not None:
            return [] if primitive else [f"{where}: expected {type_name}, got {_show(value)}"]
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return [f"{where}: type {type_name} not in the spec"]
        if spec_type.get("subtypes"):
            return self._check_any(where, list(spec_type["subtypes"]), value, depth)
        value = _maybe_json(value)
        if not isinstance(value, dict):
            return [f"{where}: expected {type_name} object, got {_show(value)}"]
        problems = self._check_fields(f"{where}<{type_name}>", spec_type.get("fields", []),
                                      value, depth)
        problems.extend(self._check_discriminator(where, type_name, spec_type, value))
        return problems

    @staticmethod
    def _check_discriminator(where: str, type_name: str, spec_type: dict[str, Any],
                             value: dict[str, Any]) -> list[str]:
        """Union members say 'Type of the X, must be photo': hold the value to that."""
        for field in spec_type.get("fields", []):
            if field["name"] not in ("type", "source", "status"):
                continue
            m = re.search(r"must be (?!one\b)(\w+)", field.get("description", ""))
            if m and field["name"] in value and value[field["name"]] != m.group(1):
                return [f"{where}<{type_name}>: {field['name']} must be {m.group(1)!r}, "
                        f"got {value[field['name']]!r}"]
        return []


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _check_primitive(type_name: str, value: Any) -> bool | None:
    """True/False for primitive types, None when type_name is not primitive."""
    if type_name == "Integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, str) and bool(_INT_RE.fullmatch(value)))
    if type_name == "Float":
        if isinstance(value, bool):
            return False
        return isinstance(value, int | float) or (
            isinstance(value, str) and bool(_FLOAT_RE.fullmatch(value)))
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Boolean":
        return isinstance(value, bool) or value in ("true", "false", "True", "False")
    if type_name == "True":
        return value is True or value in ("true", "True")
    if type_name == "InputFile":
        return isinstance(value, UploadedFile)
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}"


@cache
def _load(path: str) -> ApiSpec:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return ApiSpec(version=str(data.get("version", "?")), methods=data["methods"],
                   types=data["types"])


def load_spec(path: Path | None = None) -> ApiSpec:
    """The published spec (cached per path)."""
    return _load(str(path or spec_path()))
