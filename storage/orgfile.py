"""The organisation file (`zhitong org load FILE.yaml`): parse and validate, nothing else.

The whole file is checked before anything is loaded, and every problem is collected, each as
one plain Chinese sentence that names the key path and the bad value, e.g.

    projects[1].lead_unit: 未知的单位编号 "fgwx"(第 58 行)

Indexes in paths count from 0, as in the file's own order; the line number points at the
value. The schema is the one of `org.example.yaml` (see ../shared/org.example.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

UNIT_KINDS = ("department", "township", "utility", "dispatcher", "company")
DEFAULT_UNIT_KIND = "department"
ROLES = ("enterprise", "official", "leader", "admin")
STAGES = ("signed", "started", "topped_out", "completed", "in_production")
STAGE_ALIASES = {"签约": "signed", "开工": "started", "封顶": "topped_out", "竣工": "completed",
                 "投产": "in_production"}
DEFAULT_CATEGORY_DAYS = 7

_TOP_KEYS = ("county", "units", "categories", "people", "projects")
_UNIT_KEYS = ("code", "name", "kind")
_CATEGORY_KEYS = ("code", "name", "unit", "days", "keywords")
_PERSON_KEYS = ("id", "name", "telegram_id", "roles", "unit", "phone")
_PROJECT_KEYS = (
    "code", "name", "level", "stage", "lead_unit", "leader", "service_officer",
    "total_investment_wan", "annual_plan_wan", "planned_start", "planned_finish", "contacts",
    "routing",
)


# --- the typed result -------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str = DEFAULT_UNIT_KIND


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    unit: str
    days: int = DEFAULT_CATEGORY_DAYS
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonSpec:
    id: str
    name: str
    roles: tuple[str, ...]
    telegram_id: int | None = None
    unit: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ProjectSpec:
    code: str
    name: str
    level: str | None = None
    stage: str | None = None
    lead_unit: str | None = None
    leader: str | None = None
    service_officer: str | None = None
    total_investment_wan: float | None = None
    annual_plan_wan: float | None = None
    planned_start: date | None = None
    planned_finish: date | None = None
    contacts: tuple[str, ...] = ()
    # category code -> unit code
    routing: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrgSpec:
    county: str | None
    units: tuple[UnitSpec, ...]
    categories: tuple[CategorySpec, ...]
    people: tuple[PersonSpec, ...]
    projects: tuple[ProjectSpec, ...]
    # Things worth telling the operator that do not stop the load (unknown keys …).
    warnings: tuple[str, ...] = ()
    source: str = ""

    @property
    def dispatcher(self) -> UnitSpec:
        return next(u for u in self.units if u.kind == "dispatcher")


class OrgFileError(Exception):
    """The file cannot be loaded; `problems` holds every reason, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# --- reading YAML with line numbers -----------------------------------------------------------


class _Map(dict[Any, Any]):
    """A mapping that remembers the line (1-based) of each value."""

    lines: dict[Any, int]
    start_line: int


class _Seq(list[Any]):
    lines: list[int]


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps line numbers, reports duplicate keys, and leaves dates as text.

    Dates stay strings so that an impossible date (2026-02-30) is a validation problem with a
    key path instead of an exception from inside the YAML parser.
    """

    duplicate_keys: list[tuple[str, int]]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_map(loader: _Loader, node: MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.lines = {}
    out.start_line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        if key in out:
            loader.duplicate_keys.append((str(key), key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = value_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: Node) -> _Seq:
    assert isinstance(node, yaml.SequenceNode)
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _yaml_load(text: str) -> tuple[Any, list[tuple[str, int]]]:
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    finally:
        loader.dispose()


# --- entry points -----------------------------------------------------------------------------


def load_org_file(path: str | Path) -> OrgSpec:
    """Read and validate an organisation file; OrgFileError lists every problem."""
    p = Path(path)
    if not p.exists():
        raise OrgFileError([f"文件不存在:{p}"])
    if not p.is_file():
        raise OrgFileError([f"不是文件:{p}"])
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise OrgFileError([f"{p}: 文件不是 UTF-8 编码的文本,请另存为 UTF-8 后重试"]) from None
    except OSError as exc:
        raise OrgFileError([f"无法读取文件 {p}:{exc.strerror or exc}"]) from None
    return parse_org(text, source=str(p))


def parse_org(text: str, source: str = "<text>") -> OrgSpec:
    """Parse YAML text and validate it."""
    try:
        data, duplicates = _yaml_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else "位置不明"
        detail = ";".join(x for x in (exc.context, exc.problem) if x)
        raise OrgFileError([f"YAML 格式错误({where}):{detail}"]) from None
    except yaml.YAMLError as exc:
        raise OrgFileError([f"YAML 格式错误:{exc}"]) from None
    problems = [f"重复的键 \"{key}\"(第 {line} 行):同一层里每个键只能写一次"
                for key, line in duplicates]
    try:
        spec = validate_org(data, source=source)
    except OrgFileError as exc:
        raise OrgFileError(problems + exc.problems) from None
    if problems:
        raise OrgFileError(problems)
    return spec


def validate_org(data: Any, source: str = "<data>") -> OrgSpec:
    """Check a parsed document as a whole; returns the typed spec or raises OrgFileError."""
    return _Validator(source).run(data)


# --- validation -------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as the person wrote it, quoted."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "空值"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "一个映射"
    if isinstance(value, list):
        return "一个列表"
    return f'"{value}"'


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    # helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _line(container: Any, key: Any) -> int | None:
        if isinstance(container, _Map):
            # A missing key points at the entry it is missing from.
            return container.lines.get(key, container.start_line)
        if isinstance(container, _Seq) and isinstance(key, int) and key < len(container.lines):
            return container.lines[key]
        return None

    def bad(self, path: str, message: str, line: int | None = None) -> None:
        self.problems.append(f"{path}: {message}" + (f"(第 {line} 行)" if line else ""))

    def warn(self, path: str, message: str, line: int | None = None) -> None:
        self.warnings.append(f"{path}: {message}" + (f"(第 {line} 行)" if line else ""))

    def items(self, doc: dict[Any, Any], key: str) -> Iterator[tuple[str, dict[Any, Any]]]:
        """The entries of a top-level list, each a mapping; other shapes are reported."""
        value = doc.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.bad(key, f"应为列表(每项以 - 开头),实际是 {_show(value)}", self._line(doc, key))
            return
        for i, item in enumerate(value):
            path = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.bad(path, f"应为映射(如 {{code: ..., name: ...}}),实际是 {_show(item)}",
                         self._line(value, i))
                continue
            yield path, item

    def unknown_keys(self, path: str, item: dict[Any, Any], allowed: tuple[str, ...]) -> None:
        for key in item:
            if key not in allowed:
                self.warn(f"{path}.{key}" if path else str(key),
                          f"未知的键,已忽略(可用:{', '.join(allowed)})",
                          self._line(item, key))

    def text(self, path: str, item: dict[Any, Any], key: str, *, required: bool) -> str | None:
        value = item.get(key)
        line = self._line(item, key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(f"{path}.{key}", "缺少必填项", line)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.bad(f"{path}.{key}", f"应为文字,实际是 {_show(value)}", line)
            return None
        return str(value).strip()

    def code(self, path: str, item: dict[Any, Any], key: str) -> str | None:
        value = self.text(path, item, key, required=True)
        if value is not None and any(ch.isspace() for ch in value):
            self.bad(f"{path}.{key}", f"编号不能含空格 {_show(value)}", self._line(item, key))
            return None
        return value

    def number(self, path: str, item: dict[Any, Any], key: str) -> float | None:
        value = item.get(key)
        if value is None:
            return None
        line = self._line(item, key)
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.replace(",", "").strip())
            except ValueError:
                number = None
        if number is None or math.isnan(number) or math.isinf(number):
            self.bad(f"{path}.{key}", f"应为数字(单位:万元),实际是 {_show(value)}", line)
            return None
        if number < 0:
            self.bad(f"{path}.{key}", f"金额不能为负数 {_show(value)}", line)
            return None
        return number

    def day(self, path: str, item: dict[Any, Any], key: str) -> date | None:
        value = item.get(key)
        if value is None:
            return None
        line = self._line(item, key)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.bad(f"{path}.{key}", f"无效的日期 {_show(value)}(应写成 2026-03-01 这样的格式)",
                 line)
        return None

    def id_list(
        self, path: str, item: dict[Any, Any], key: str
    ) -> list[tuple[str, str, int | None]]:
        """(path, value, line) of each entry of a list of codes/ids; one string is a list of one."""
        value = item.get(key)
        if value is None:
            return []
        if isinstance(value, str | int) and not isinstance(value, bool):
            return [(f"{path}.{key}", str(value), self._line(item, key))]
        if not isinstance(value, list):
            self.bad(f"{path}.{key}", f"应为列表,实际是 {_show(value)}", self._line(item, key))
            return []
        out = []
        for i, entry in enumerate(value):
            p = f"{path}.{key}[{i}]"
            if isinstance(entry, bool) or not isinstance(entry, str | int):
                self.bad(p, f"应为编号,实际是 {_show(entry)}", self._line(value, i))
                continue
            out.append((p, str(entry), self._line(value, i)))
        return out

    # the document ----------------------------------------------------------------------------

    def run(self, data: Any) -> OrgSpec:
        if data is None:
            raise OrgFileError([f"{self.source}: 文件是空的,应包含 units、people、categories、projects"])
        if not isinstance(data, dict):
            raise OrgFileError([
                f"{self.source}: 文件顶层应为映射(units: ...、people: ... 等),实际是 {_show(data)}"
            ])
        self.unknown_keys("", data, _TOP_KEYS)
        county = self.county(data)
        if "units" not in data:
            self.bad("units", "缺少必填项:至少需要一个单位(其中恰好一个 kind: dispatcher)")

        # References are checked against every code the file declares, also on entries that
        # have problems of their own, so one mistake is reported once and not again at each use.
        units = self.units(data)
        unit_codes = self.declared(data, "units", "code")
        categories = self.categories(data, unit_codes)
        category_codes = self.declared(data, "categories", "code")
        people = self.people(data, unit_codes)
        person_ids = self.declared(data, "people", "id")
        projects = self.projects(data, unit_codes, category_codes, person_ids)

        if self.problems:
            raise OrgFileError(self.problems)
        return OrgSpec(
            county=county,
            units=tuple(units),
            categories=tuple(categories),
            people=tuple(people),
            projects=tuple(projects),
            warnings=tuple(self.warnings),
            source=self.source,
        )

    @staticmethod
    def declared(doc: dict[Any, Any], section: str, key: str) -> set[str]:
        entries = doc.get(section)
        if not isinstance(entries, list):
            return set()
        return {
            str(e[key]).strip() for e in entries
            if isinstance(e, dict) and isinstance(e.get(key), str | int)
            and not isinstance(e.get(key), bool) and str(e[key]).strip()
        }

    def county(self, doc: dict[Any, Any]) -> str | None:
        value = doc.get("county")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.bad("county", f"应为文字,实际是 {_show(value)}", self._line(doc, "county"))
            return None
        return str(value).strip() or None

    def units(self, doc: dict[Any, Any]) -> list[UnitSpec]:
        out: list[UnitSpec] = []
        seen: dict[str, str] = {}
        dispatchers: list[str] = []
        for path, item in self.items(doc, "units"):
            self.unknown_keys(path, item, _UNIT_KEYS)
            code = self.code(path, item, "code")
            name = self.text(path, item, "name", required=True)
            kind = self.text(path, item, "kind", required=False) or DEFAULT_UNIT_KIND
            if kind not in UNIT_KINDS:
                self.bad(f"{path}.kind", f"未知的单位类型 {_show(item.get('kind'))}"
                         f"(可用:{' / '.join(UNIT_KINDS)})", self._line(item, "kind"))
                kind = ""
            if code is not None and code in seen:
                self.bad(f"{path}.code", f"重复的单位编号 {_show(code)}(与 {seen[code]} 重复)",
                         self._line(item, "code"))
                continue
            if code is not None:
                seen[code] = path
            if kind == "dispatcher":
                dispatchers.append(f"{path}({code or '?'})")
            if code is not None and name is not None and kind:
                out.append(UnitSpec(code=code, name=name, kind=kind))
        if isinstance(doc.get("units"), list) and len(dispatchers) != 1:
            if not dispatchers:
                self.bad("units", "缺少重点项目办:需要恰好一个 kind: dispatcher 的单位,现有 0 个",
                         self._line(doc, "units"))
            else:
                self.bad("units", f"只能有一个 kind: dispatcher 的单位,现有 {len(dispatchers)} 个:"
                         f"{'、'.join(dispatchers)}", self._line(doc, "units"))
        return out

    def categories(self, doc: dict[Any, Any], unit_codes: set[str]) -> list[CategorySpec]:
        out: list[CategorySpec] = []
        seen: dict[str, str] = {}
        for path, item in self.items(doc, "categories"):
            self.unknown_keys(path, item, _CATEGORY_KEYS)
            code = self.code(path, item, "code")
            name = self.text(path, item, "name", required=True)
            ok = code is not None and name is not None
            unit = item.get("unit")
            if unit is None or (isinstance(unit, str) and not unit.strip()):
                self.bad(f"{path}.unit", f"类别 {_show(code or '?')} 没有指定承办单位(unit)",
                         self._line(item, "unit"))
                ok = False
            elif str(unit) not in unit_codes:
                self.bad(f"{path}.unit", f"未知的单位编号 {_show(unit)}", self._line(item, "unit"))
                ok = False
            days_raw = item.get("days", DEFAULT_CATEGORY_DAYS)
            days = DEFAULT_CATEGORY_DAYS
            if isinstance(days_raw, bool) or not isinstance(days_raw, int) or days_raw < 1:
                self.bad(f"{path}.days", f"办理时限应为正整数(工作日),实际是 {_show(days_raw)}",
                         self._line(item, "days"))
                ok = False
            else:
                days = days_raw
            keywords = [v for _, v, _ in self.id_list(path, item, "keywords")]
            if code is not None and code in seen:
                self.bad(f"{path}.code", f"重复的类别编号 {_show(code)}(与 {seen[code]} 重复)",
                         self._line(item, "code"))
                continue
            if code is not None:
                seen[code] = path
            if ok and code is not None and name is not None:
                out.append(CategorySpec(code=code, name=name, unit=str(unit), days=days,
                                        keywords=tuple(keywords)))
        if not doc.get("categories"):
            self.warn("categories", "没有定义问题类别:诉求将无法分类和分派")
        elif out and "other" not in seen:
            self.warn("categories", "没有 other(其他)类别:无法归类的诉求将无处可去")
        return out

    def people(self, doc: dict[Any, Any], unit_codes: set[str]) -> list[PersonSpec]:
        out: list[PersonSpec] = []
        seen: dict[str, str] = {}
        telegram_seen: dict[int, str] = {}
        for path, item in self.items(doc, "people"):
            self.unknown_keys(path, item, _PERSON_KEYS)
            pid = self.code(path, item, "id")
            name = self.text(path, item, "name", required=True)
            ok = pid is not None and name is not None
            roles: list[str] = []
            role_entries = self.id_list(path, item, "roles")
            if "roles" not in item or not role_entries:
                self.bad(f"{path}.roles", f"缺少角色(可用:{' / '.join(ROLES)})",
                         self._line(item, "roles"))
                ok = False
            for rpath, role, line in role_entries:
                if role not in ROLES:
                    self.bad(rpath, f"未知的角色 {_show(role)}(可用:{' / '.join(ROLES)})", line)
                    ok = False
                elif role not in roles:
                    roles.append(role)
            unit = item.get("unit")
            unit_code: str | None = None
            if unit is not None:
                if str(unit) not in unit_codes:
                    self.bad(f"{path}.unit", f"未知的单位编号 {_show(unit)}",
                             self._line(item, "unit"))
                    ok = False
                else:
                    unit_code = str(unit)
            elif "official" in roles:
                self.bad(f"{path}.unit", f"工作人员(official){_show(pid or '?')} 必须指定所属单位",
                         self._line(item, "roles"))
                ok = False
            telegram_id = self.telegram(path, item)
            if item.get("telegram_id") is not None and telegram_id is None:
                ok = False
            if telegram_id is not None:
                if telegram_id in telegram_seen:
                    self.bad(f"{path}.telegram_id", f"重复的 telegram_id {_show(telegram_id)}"
                             f"(与 {telegram_seen[telegram_id]} 重复)",
                             self._line(item, "telegram_id"))
                    ok = False
                else:
                    telegram_seen[telegram_id] = path
            phone = item.get("phone")
            phone_text: str | None = None
            if phone is not None:
                if isinstance(phone, bool) or not isinstance(phone, str | int):
                    self.bad(f"{path}.phone", f"电话应为文字,实际是 {_show(phone)}",
                             self._line(item, "phone"))
                    ok = False
                else:
                    phone_text = str(phone).strip() or None
            if pid is not None and pid in seen:
                self.bad(f"{path}.id", f"重复的人员编号 {_show(pid)}(与 {seen[pid]} 重复)",
                         self._line(item, "id"))
                continue
            if pid is not None:
                seen[pid] = path
            if ok and pid is not None and name is not None:
                out.append(PersonSpec(id=pid, name=name, roles=tuple(roles),
                                      telegram_id=telegram_id, unit=unit_code, phone=phone_text))
        return out

    def telegram(self, path: str, item: dict[Any, Any]) -> int | None:
        value = item.get("telegram_id")
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        if number is None or number <= 0 or number >= 2**63:
            self.bad(f"{path}.telegram_id", f"应为正整数(Telegram 用户 ID),实际是 {_show(value)}",
                     self._line(item, "telegram_id"))
            return None
        return number

    def projects(
        self,
        doc: dict[Any, Any],
        unit_codes: set[str],
        category_codes: set[str],
        person_ids: set[str],
    ) -> list[ProjectSpec]:
        out: list[ProjectSpec] = []
        seen: dict[str, str] = {}
        for path, item in self.items(doc, "projects"):
            self.unknown_keys(path, item, _PROJECT_KEYS)
            code = self.code(path, item, "code")
            name = self.text(path, item, "name", required=True)
            ok = code is not None and name is not None
            level = self.text(path, item, "level", required=False)
            stage = self.text(path, item, "stage", required=False)
            if stage is not None:
                stage = STAGE_ALIASES.get(stage, stage)
                if stage not in STAGES:
                    self.bad(f"{path}.stage", f"未知的项目阶段 {_show(item.get('stage'))}"
                             f"(可用:{' / '.join(STAGES)})", self._line(item, "stage"))
                    ok = False
            lead_unit = item.get("lead_unit")
            if lead_unit is not None and str(lead_unit) not in unit_codes:
                self.bad(f"{path}.lead_unit", f"未知的单位编号 {_show(lead_unit)}",
                         self._line(item, "lead_unit"))
                ok = False
            people: dict[str, str | None] = {}
            for key in ("leader", "service_officer"):
                value = item.get(key)
                people[key] = None if value is None else str(value)
                if value is not None and str(value) not in person_ids:
                    self.bad(f"{path}.{key}", f"未知的人员编号 {_show(value)}",
                             self._line(item, key))
                    ok = False
            total = self.number(path, item, "total_investment_wan")
            annual = self.number(path, item, "annual_plan_wan")
            if (item.get("total_investment_wan") is not None and total is None) or (
                item.get("annual_plan_wan") is not None and annual is None
            ):
                ok = False
            start = self.day(path, item, "planned_start")
            finish = self.day(path, item, "planned_finish")
            if (item.get("planned_start") is not None and start is None) or (
                item.get("planned_finish") is not None and finish is None
            ):
                ok = False
            if start and finish and finish < start:
                self.bad(f"{path}.planned_finish", f"计划竣工日期 {_show(finish.isoformat())} "
                         f"早于计划开工日期 {_show(start.isoformat())}",
                         self._line(item, "planned_finish"))
                ok = False
            contacts: list[str] = []
            for cpath, pid, line in self.id_list(path, item, "contacts"):
                if pid not in person_ids:
                    self.bad(cpath, f"未知的人员编号 {_show(pid)}", line)
                    ok = False
                elif pid not in contacts:
                    contacts.append(pid)
            routing = self.routing(path, item, unit_codes, category_codes)
            if routing is None:
                ok = False
            if code is not None and code in seen:
                self.bad(f"{path}.code", f"重复的项目编号 {_show(code)}(与 {seen[code]} 重复)",
                         self._line(item, "code"))
                continue
            if code is not None:
                seen[code] = path
            if ok and code is not None and name is not None and routing is not None:
                out.append(ProjectSpec(
                    code=code, name=name, level=level, stage=stage,
                    lead_unit=None if lead_unit is None else str(lead_unit),
                    leader=people["leader"], service_officer=people["service_officer"],
                    total_investment_wan=total, annual_plan_wan=annual,
                    planned_start=start, planned_finish=finish,
                    contacts=tuple(contacts), routing=routing,
                ))
        return out

    def routing(
        self, path: str, item: dict[Any, Any], unit_codes: set[str], category_codes: set[str]
    ) -> dict[str, str] | None:
        value = item.get("routing")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(f"{path}.routing", f"应为映射(类别编号: 单位编号),实际是 {_show(value)}",
                     self._line(item, "routing"))
            return None
        out: dict[str, str] = {}
        ok = True
        for category, unit in value.items():
            rpath = f"{path}.routing.{category}"
            line = self._line(value, category)
            if str(category) not in category_codes:
                self.bad(rpath, f"未知的类别编号 {_show(str(category))}", line)
                ok = False
            if unit is None or isinstance(unit, bool | list | dict):
                self.bad(rpath, f"应为单位编号,实际是 {_show(unit)}", line)
                ok = False
            elif str(unit) not in unit_codes:
                self.bad(rpath, f"未知的单位编号 {_show(unit)}", line)
                ok = False
            else:
                out[str(category)] = str(unit)
        return out if ok else None
