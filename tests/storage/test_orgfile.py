"""The organisation file: the shared example is accepted as it is; every kind of mistake is named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from storage.orgfile import (
    OrgFileError,
    OrgSpec,
    load_org_file,
    parse_org,
    validate_org,
)
from tests.conftest import ORG_EXAMPLE
from tests.factories import ORG_OTHER

MINIMAL = """
units:
  - {code: zdb, name: 重点办, kind: dispatcher}
  - {code: fgw, name: 发改委}
categories:
  - {code: other, name: 其他, unit: zdb, days: 7}
people:
  - {id: zhao, name: 赵主任, roles: [admin, official], unit: zdb}
  - {id: han, name: 韩经理, roles: [enterprise]}
projects:
  - {code: P1, name: 项目一, lead_unit: fgw, contacts: [han]}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as info:
        parse_org(text)
    assert info.value.problems, "an OrgFileError always says why"
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def the_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def minimal(**replace: str) -> str:
    text = MINIMAL
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# --- accepted files -------------------------------------------------------------------------------


def test_shared_example_is_accepted_as_it_is() -> None:
    spec = load_org_file(ORG_EXAMPLE)
    assert isinstance(spec, OrgSpec)
    assert spec.warnings == ()
    assert spec.county == "示范县"
    assert [u.code for u in spec.units][:3] == ["zdb", "fgw", "zrzyj"]
    assert len(spec.units) == 12 and len(spec.people) == 16 and len(spec.projects) == 3
    assert spec.dispatcher.code == "zdb"
    kinds = {u.code: u.kind for u in spec.units}
    assert kinds["gdgs"] == "utility" and kinds["cgz"] == "township"
    assert kinds["fgw"] == "department"  # the default
    assert [c.code for c in spec.categories] == [
        "land", "demolition", "approval", "finance", "utilities", "policy", "labor", "site",
        "logistics", "environment", "other",
    ]
    land = spec.categories[0]
    assert (land.name, land.unit, land.days) == ("用地保障", "zrzyj", 15)
    zhao = spec.people[0]
    assert (zhao.id, zhao.telegram_id, zhao.roles, zhao.unit) == (
        "zhao", 900001, ("admin", "official"), "zdb")
    han = next(p for p in spec.people if p.id == "han")
    assert han.phone == "13800001111" and han.unit is None and han.roles == ("enterprise",)
    p1, p2, p3 = spec.projects
    assert (p1.code, p1.level, p1.stage, p1.lead_unit, p1.leader, p1.service_officer) == (
        "P2026-001", "省重点", "started", "fgw", "li", "feng")
    assert p1.total_investment_wan == 500000 and p1.annual_plan_wan == 120000
    assert p1.planned_start == date(2026, 3, 1) and p1.planned_finish == date(2027, 12, 31)
    assert p1.contacts == ("han",) and p1.routing == {}
    assert p2.routing == {"site": "cgz"}
    assert p3.service_officer is None and p3.contacts == ()


def test_second_organisation_of_the_same_schema_is_accepted() -> None:
    spec = load_org_file(ORG_OTHER)
    assert spec.dispatcher.code == "xmb"
    assert spec.warnings == ()
    xu = next(p for p in spec.people if p.id == "xu")
    assert xu.phone == "13600004444"  # written as a number in YAML, kept as text
    assert spec.projects[0].routing == {"site": "hqjd", "land": "ctgs"}
    assert spec.projects[0].annual_plan_wan == 80000.5


def test_minimal_file_and_defaults() -> None:
    spec = parse_org(MINIMAL)
    assert spec.county is None
    assert spec.units[1].kind == "department"
    assert spec.projects[0].stage is None and spec.projects[0].planned_start is None


def test_friendly_forms_are_accepted() -> None:
    text = minimal(**{
        "{id: han, name: 韩经理, roles: [enterprise]}":
            '{id: han, name: 韩经理, roles: enterprise, telegram_id: "800001", phone: 13800001111}',
        "{code: P1, name: 项目一, lead_unit: fgw, contacts: [han]}":
            '{code: P1, name: 项目一, stage: 开工, total_investment_wan: "1,200", '
            'planned_start: "2026-03-01", contacts: han}',
    })
    spec = parse_org(text)
    han = spec.people[1]
    assert han.roles == ("enterprise",) and han.telegram_id == 800001
    assert han.phone == "13800001111"
    p = spec.projects[0]
    assert p.stage == "started" and p.total_investment_wan == 1200
    assert p.planned_start == date(2026, 3, 1) and p.contacts == ("han",)


def test_unknown_keys_are_warnings_not_errors() -> None:
    spec = parse_org(minimal(**{"lead_unit: fgw": "lead_unit: fgw, lead_untl: fgw"}) + "\nextra: 1\n")
    assert any(w.startswith("projects[0].lead_untl: 未知的键") for w in spec.warnings)
    assert any(w.startswith("extra: 未知的键") for w in spec.warnings)


def test_validate_accepts_plain_python_data() -> None:
    data = yaml.safe_load(MINIMAL)
    assert validate_org(data).units[0].code == "zdb"


# --- file-level problems ----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(OrgFileError) as info:
        load_org_file(missing)
    assert info.value.problems == [f"文件不存在:{missing}"]


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError) as info:
        load_org_file(tmp_path)
    assert info.value.problems == [f"不是文件:{tmp_path}"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes("units: [{code: zdb, name: 重点办}]".encode("gbk"))
    with pytest.raises(OrgFileError) as info:
        load_org_file(path)
    assert "UTF-8" in info.value.problems[0]


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace("  - {code: fgw, name: 发改委}", "  - {code: fgw, name: 发改委"),
                    encoding="utf-8")
    with pytest.raises(OrgFileError) as info:
        load_org_file(path)
    (problem,) = info.value.problems
    assert problem.startswith("YAML 格式错误(第 ")
    line = int(problem.split("第 ")[1].split(" 行")[0])
    assert 3 <= line <= 5  # the unclosed brace on line 4 (or where YAML notices it)


def test_bad_indentation_names_the_line() -> None:
    problem = the_problem("units:\n  - {code: zdb, name: a, kind: dispatcher}\n bad: [\n")
    assert problem.startswith("YAML 格式错误(第 3 行")


@pytest.mark.parametrize(("text", "shown"), [("", "文件是空的"), ("# only a comment\n", "文件是空的"),
                                             ("- a\n- b\n", "一个列表"), ("just text\n", '"just text"')])
def test_top_level_must_be_a_mapping(text: str, shown: str) -> None:
    problem = the_problem(text)
    assert shown in problem


def test_duplicate_yaml_keys_are_reported() -> None:
    problem = the_problem(minimal(**{"{code: fgw, name: 发改委}": "{code: fgw, name: 发改委, name: 发展改革委}"}))
    assert problem == '重复的键 "name"(第 4 行):同一层里每个键只能写一次'


def test_sections_must_be_lists() -> None:
    problem = the_problem(minimal(**{"projects:\n  - {code: P1, name: 项目一, lead_unit: fgw, contacts: [han]}":
                                     "projects: {code: P1}"}))
    assert problem.startswith("projects: 应为列表")


def test_entries_must_be_mappings() -> None:
    problem = problems_of(minimal(**{"  - {code: fgw, name: 发改委}": "  - fgw"}))[0]
    assert problem == 'units[1]: 应为映射(如 {code: ..., name: ...}),实际是 "fgw"(第 4 行)'


# --- unknown codes anywhere ---------------------------------------------------------------------


def test_unknown_unit_in_project_lead_unit() -> None:
    problem = the_problem(minimal(**{"lead_unit: fgw": "lead_unit: fgwx"}))
    assert problem == 'projects[0].lead_unit: 未知的单位编号 "fgwx"(第 11 行)'


def test_unknown_unit_in_the_example_is_named_by_path_and_value() -> None:
    text = edit(ORG_EXAMPLE.read_text(encoding="utf-8"), "lead_unit: fgw\n    leader: sun",
                "lead_unit: fgwx\n    leader: sun")
    problem = the_problem(text)
    assert problem.startswith('projects[1].lead_unit: 未知的单位编号 "fgwx"')


def test_unknown_unit_of_category_person_and_routing() -> None:
    text = minimal(**{
        "{code: other, name: 其他, unit: zdb, days: 7}": "{code: other, name: 其他, unit: nowhere}",
        "roles: [admin, official], unit: zdb": "roles: [admin, official], unit: zdbb",
        "contacts: [han]}": "contacts: [han], routing: {other: ghost}}",
    })
    problems = problems_of(text)
    assert 'categories[0].unit: 未知的单位编号 "nowhere"(第 6 行)' in problems
    assert 'people[0].unit: 未知的单位编号 "zdbb"(第 8 行)' in problems
    assert 'projects[0].routing.other: 未知的单位编号 "ghost"(第 11 行)' in problems
    assert len(problems) == 3


def test_unknown_category_in_routing() -> None:
    problem = the_problem(minimal(**{"contacts: [han]}": "contacts: [han], routing: {sites: fgw}}"}))
    assert problem == 'projects[0].routing.sites: 未知的类别编号 "sites"(第 11 行)'


def test_routing_must_be_a_mapping() -> None:
    problem = the_problem(minimal(**{"contacts: [han]}": "contacts: [han], routing: [other]}"}))
    assert problem.startswith("projects[0].routing: 应为映射")


def test_unknown_person_in_leader_officer_and_contacts() -> None:
    problems = problems_of(minimal(**{
        "lead_unit: fgw, contacts: [han]": "lead_unit: fgw, leader: li, service_officer: feng, "
                                           "contacts: [han, yang]",
    }))
    assert problems == [
        'projects[0].leader: 未知的人员编号 "li"(第 11 行)',
        'projects[0].service_officer: 未知的人员编号 "feng"(第 11 行)',
        'projects[0].contacts[1]: 未知的人员编号 "yang"(第 11 行)',
    ]


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicate_unit_code() -> None:
    problem = the_problem(minimal(**{"  - {code: fgw, name: 发改委}":
                                     "  - {code: fgw, name: 发改委}\n  - {code: zdb, name: 重点办二}"}))
    assert problem == 'units[2].code: 重复的单位编号 "zdb"(与 units[0] 重复)(第 5 行)'


def test_duplicate_person_id() -> None:
    problem = the_problem(minimal(**{"  - {id: han, name: 韩经理, roles: [enterprise]}":
                                     "  - {id: han, name: 韩经理, roles: [enterprise]}\n"
                                     "  - {id: zhao, name: 赵二, roles: [leader]}"}))
    assert problem.startswith('people[2].id: 重复的人员编号 "zhao"(与 people[0] 重复)')


def test_duplicate_project_code() -> None:
    text = MINIMAL + "  - {code: P1, name: 项目二}\n"
    assert the_problem(text) == 'projects[1].code: 重复的项目编号 "P1"(与 projects[0] 重复)(第 12 行)'


def test_duplicate_category_code() -> None:
    text = minimal(**{"  - {code: other, name: 其他, unit: zdb, days: 7}":
                      "  - {code: other, name: 其他, unit: zdb, days: 7}\n"
                      "  - {code: other, name: 其它, unit: fgw}"})
    assert the_problem(text).startswith('categories[1].code: 重复的类别编号 "other"(与 categories[0] 重复)')


def test_duplicate_telegram_id() -> None:
    text = minimal(**{"roles: [admin, official], unit: zdb}": "roles: [admin, official], unit: zdb, telegram_id: 5}",
                      "roles: [enterprise]}": "roles: [enterprise], telegram_id: 5}"})
    assert the_problem(text).startswith('people[1].telegram_id: 重复的 telegram_id "5"(与 people[0] 重复)')


def test_telegram_id_must_be_a_positive_number() -> None:
    problem = the_problem(minimal(**{"roles: [enterprise]}": "roles: [enterprise], telegram_id: abc}"}))
    assert problem.startswith('people[1].telegram_id: 应为正整数(Telegram 用户 ID),实际是 "abc"')


# --- categories, roles, kinds ---------------------------------------------------------------------


def test_category_without_unit() -> None:
    problem = the_problem(minimal(**{"{code: other, name: 其他, unit: zdb, days: 7}": "{code: other, name: 其他}"}))
    assert problem == 'categories[0].unit: 类别 "other" 没有指定承办单位(unit)(第 6 行)'


def test_category_days_must_be_a_positive_whole_number() -> None:
    problem = the_problem(minimal(**{"days: 7": "days: 三天"}))
    assert problem.startswith('categories[0].days: 办理时限应为正整数(工作日),实际是 "三天"')


def test_missing_other_category_is_a_warning() -> None:
    text = minimal(**{"{code: other, name: 其他, unit: zdb, days: 7}": "{code: land, name: 用地, unit: fgw}"})
    assert any("other" in w for w in parse_org(text).warnings)


def test_no_categories_is_a_warning() -> None:
    text = minimal(**{"categories:\n  - {code: other, name: 其他, unit: zdb, days: 7}\n": ""})
    assert any(w.startswith("categories: 没有定义问题类别") for w in parse_org(text).warnings)


def test_unknown_role() -> None:
    problem = the_problem(minimal(**{"roles: [enterprise]": "roles: [enterprise, boss]"}))
    assert problem == ('people[1].roles[1]: 未知的角色 "boss"'
                       "(可用:enterprise / official / leader / admin)(第 9 行)")


def test_person_without_roles() -> None:
    problem = the_problem(minimal(**{"{id: han, name: 韩经理, roles: [enterprise]}": "{id: han, name: 韩经理}"}))
    assert problem.startswith("people[1].roles: 缺少角色")


def test_official_without_unit() -> None:
    problem = the_problem(minimal(**{"roles: [enterprise]": "roles: [official]"}))
    assert problem.startswith('people[1].unit: 工作人员(official)"han" 必须指定所属单位')


def test_unknown_unit_kind() -> None:
    problem = the_problem(minimal(**{"{code: fgw, name: 发改委}": "{code: fgw, name: 发改委, kind: bureau}"}))
    assert problem.startswith('units[1].kind: 未知的单位类型 "bureau"')


@pytest.mark.parametrize("kind", ["department", "township", "utility", "company"])
def test_every_unit_kind_is_known(kind: str) -> None:
    spec = parse_org(minimal(**{"{code: fgw, name: 发改委}": f"{{code: fgw, name: 发改委, kind: {kind}}}"}))
    assert spec.units[1].kind == kind


def test_no_dispatcher() -> None:
    problem = the_problem(minimal(**{"kind: dispatcher": "kind: department"}))
    assert problem.startswith("units: 缺少重点项目办:需要恰好一个 kind: dispatcher 的单位,现有 0 个")


def test_two_dispatchers() -> None:
    problem = the_problem(minimal(**{"{code: fgw, name: 发改委}": "{code: fgw, name: 发改委, kind: dispatcher}"}))
    assert problem.startswith("units: 只能有一个 kind: dispatcher 的单位,现有 2 个:units[0](zdb)、units[1](fgw)")


def test_missing_units_section() -> None:
    problems = problems_of("people: []\n")
    assert problems[0].startswith("units: 缺少必填项")


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-02-30", "2026/03/01", "明年三月", "2026-13-01"])
def test_bad_date(value: str) -> None:
    problem = the_problem(minimal(**{"lead_unit: fgw": f"lead_unit: fgw, planned_start: {value}"}))
    assert problem.startswith(f'projects[0].planned_start: 无效的日期 "{value}"')


def test_finish_before_start() -> None:
    problem = the_problem(minimal(**{
        "lead_unit: fgw": "lead_unit: fgw, planned_start: 2027-01-01, planned_finish: 2026-01-01"}))
    assert problem.startswith('projects[0].planned_finish: 计划竣工日期 "2026-01-01" 早于计划开工日期')


@pytest.mark.parametrize("value", ["很多", "5亿", "true", "[1]"])
def test_non_numeric_investment(value: str) -> None:
    problem = the_problem(minimal(**{"lead_unit: fgw": f"lead_unit: fgw, total_investment_wan: {value}"}))
    assert problem.startswith("projects[0].total_investment_wan: 应为数字(单位:万元)")


def test_negative_investment() -> None:
    problem = the_problem(minimal(**{"lead_unit: fgw": "lead_unit: fgw, annual_plan_wan: -5"}))
    assert problem.startswith('projects[0].annual_plan_wan: 金额不能为负数 "-5"')


def test_unknown_stage() -> None:
    problem = the_problem(minimal(**{"lead_unit: fgw": "lead_unit: fgw, stage: flying"}))
    assert problem.startswith('projects[0].stage: 未知的项目阶段 "flying"')


@pytest.mark.parametrize(("section", "old", "new", "path"), [
    ("unit code", "{code: fgw, name: 发改委}", "{name: 发改委}", "units[1].code"),
    ("unit name", "{code: fgw, name: 发改委}", "{code: fgw}", "units[1].name"),
    ("category code", "{code: other, name: 其他,", "{name: 其他,", "categories[0].code"),
    ("category name", "{code: other, name: 其他,", "{code: other,", "categories[0].name"),
    ("person id", "{id: han, name: 韩经理,", "{name: 韩经理,", "people[1].id"),
    ("person name", "{id: han, name: 韩经理,", "{id: han,", "people[1].name"),
    ("project code", "{code: P1, name: 项目一,", "{name: 项目一,", "projects[0].code"),
    ("project name", "{code: P1, name: 项目一,", "{code: P1,", "projects[0].name"),
])
def test_missing_required_keys(section: str, old: str, new: str, path: str) -> None:
    problems = problems_of(minimal(**{old: new}))
    assert any(p.startswith(f"{path}: 缺少必填项") for p in problems), (section, problems)


def test_codes_must_be_text_without_spaces() -> None:
    problems = problems_of(minimal(**{"{code: fgw, name: 发改委}": "{code: fg w, name: [发改委]}"}))
    assert problems[0].startswith('units[1].code: 编号不能含空格 "fg w"')
    assert problems[1].startswith("units[1].name: 应为文字,实际是 一个列表")


# --- all at once --------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = ORG_EXAMPLE.read_text(encoding="utf-8")
    for old, new in [
        ("unit: zrzyj, days: 15", "unit: zrzyjj, days: 15"),
        ("{code: cgz,   name: 城关镇人民政府, kind: township}",
         "{code: fgw,   name: 城关镇人民政府, kind: township}"),
        ("roles: [leader]}\n  - {id: sun", "roles: [chief]}\n  - {id: sun"),
        ("planned_start: 2026-03-01", "planned_start: 2026-03-32"),
        ("total_investment_wan: 80000", "total_investment_wan: 八亿"),
        ("contacts: [yang]", "contacts: [yangg]"),
        ("site: cgz", "sites: gaj"),
        ("stage: topped_out", "stage: roofed"),
    ]:
        text = edit(text, old, new)
    problems = problems_of(text)
    expected_starts = [
        'categories[0].unit: 未知的单位编号 "zrzyjj"',
        'units[11].code: 重复的单位编号 "fgw"(与 units[1] 重复)',
        'people[1].roles[0]: 未知的角色 "chief"',
        'people[13].unit: 未知的单位编号 "cgz"',
        'projects[0].planned_start: 无效的日期 "2026-03-32"',
        'projects[1].total_investment_wan: 应为数字(单位:万元),实际是 "八亿"',
        'projects[1].contacts[0]: 未知的人员编号 "yangg"',
        'projects[1].routing.sites: 未知的类别编号 "sites"',
        'projects[2].stage: 未知的项目阶段 "roofed"',
    ]
    for start in expected_starts:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected_starts), problems
    assert all("第 " in p for p in problems)  # every problem points at a line
