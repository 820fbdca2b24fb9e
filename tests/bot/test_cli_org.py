"""`zhitong org load` / `org show` as an operator runs them: messages, exit codes, the database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot import texts
from bot.cli import main
from tests.conftest import ORG_EXAMPLE
from tests.factories import ORG_OTHER, dump_database

Invoke = Callable[..., Result]


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    return invoke


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def example_with(old: str, new: str) -> str:
    text = ORG_EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def assert_refused(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.stderr.startswith(texts.ORG_INVALID)
    assert result.stdout == ""


def test_example_loads_twice_leaving_identical_contents(run: Invoke, database_url: str) -> None:
    first = run("org", "load", str(ORG_EXAMPLE))
    assert first.exit_code == 0, first.output
    assert texts.ORG_LOADED.format(units=12, people=16, categories=11, projects=3) in first.stdout
    snapshot = dump_database(database_url)
    second = run("org", "load", str(ORG_EXAMPLE))
    assert second.exit_code == 0, second.output
    assert texts.ORG_UNCHANGED in second.stdout
    assert dump_database(database_url) == snapshot


def test_other_file_loads_twice_too(run: Invoke, database_url: str) -> None:
    assert run("org", "load", str(ORG_EXAMPLE)).exit_code == 0
    assert run("org", "load", str(ORG_OTHER)).exit_code == 0
    snapshot = dump_database(database_url)
    again = run("org", "load", str(ORG_OTHER))
    assert again.exit_code == 0 and texts.ORG_UNCHANGED in again.stdout
    assert dump_database(database_url) == snapshot


def test_bad_unit_code_is_named_and_nothing_changes(run: Invoke, database_url: str, tmp_path: Path) -> None:
    assert run("org", "load", str(ORG_EXAMPLE)).exit_code == 0
    before = dump_database(database_url)
    bad = write(tmp_path, "bad.yaml", example_with("lead_unit: fgw\n    leader: sun",
                                                  "lead_unit: fgwx\n    leader: sun"))
    result = run("org", "load", str(bad))
    assert_refused(result)
    assert 'projects[1].lead_unit: 未知的单位编号 "fgwx"' in result.stderr
    assert dump_database(database_url) == before


def test_every_problem_is_listed(run: Invoke, database_url: str, tmp_path: Path) -> None:
    before = dump_database(database_url)
    text = example_with("unit: zrzyj, days: 15", "unit: nowhere, days: 15")
    text = text.replace("roles: [leader]}", "roles: [boss]}", 1)
    text = text.replace("planned_finish: 2027-06-30", "planned_finish: 2027-06-31")
    result = run("org", "load", str(write(tmp_path, "bad.yaml", text)))
    assert_refused(result)
    for expected in ('categories[0].unit: 未知的单位编号 "nowhere"',
                     'people[1].roles[0]: 未知的角色 "boss"',
                     'projects[1].planned_finish: 无效的日期 "2027-06-31"'):
        assert expected in result.stderr
    assert dump_database(database_url) == before


def test_malformed_yaml_names_the_line(run: Invoke, database_url: str, tmp_path: Path) -> None:
    before = dump_database(database_url)
    bad = write(tmp_path, "broken.yaml", "units:\n  - {code: zdb, name: 重点办\npeople: []\n")
    result = run("org", "load", str(bad))
    assert_refused(result)
    assert "YAML 格式错误(第 3 行" in result.stderr
    assert dump_database(database_url) == before


def test_missing_file(run: Invoke, database_url: str, tmp_path: Path) -> None:
    before = dump_database(database_url)
    missing = tmp_path / "no-such-org.yaml"
    result = run("org", "load", str(missing))
    assert_refused(result)
    assert f"文件不存在:{missing}" in result.stderr
    assert dump_database(database_url) == before


def test_dry_run_validates_only(run: Invoke, database_url: str) -> None:
    before = dump_database(database_url)
    result = run("org", "load", "--dry-run", str(ORG_EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == texts.ORG_VALID.format(
        units=12, people=16, categories=11, projects=3)
    assert dump_database(database_url) == before


def test_dry_run_refuses_a_bad_file_too(run: Invoke, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", example_with("kind: dispatcher", "kind: department"))
    result = run("org", "load", "--dry-run", str(bad))
    assert_refused(result)
    assert "units: 缺少重点项目办" in result.stderr


def test_unknown_keys_are_warned_about_and_loaded(run: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "extra.yaml", example_with("county: 示范县", "county: 示范县\nmayor: 某某"))
    result = run("org", "load", str(path))
    assert result.exit_code == 0, result.output
    assert texts.ORG_WARNINGS in result.stderr and "mayor: 未知的键" in result.stderr


def test_show_prints_units_people_projects(run: Invoke) -> None:
    empty = run("org", "show")
    assert empty.exit_code == 0 and texts.ORG_SHOW_EMPTY in empty.stdout
    assert run("org", "load", str(ORG_EXAMPLE)).exit_code == 0
    shown = run("org", "show")
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert texts.ORG_SHOW_UNITS.format(n=12) in out and texts.ORG_SHOW_PROJECTS.format(n=3) in out
    assert "县重点项目办公室" in out and "P2026-002" in out and "site→cgz" in out
    assert "138****1111" in out and "13800001111" not in out
    as_json = run("org", "show", "--json")
    assert as_json.exit_code == 0 and '"code": "zdb"' in as_json.stdout


def test_database_not_migrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHITONG_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["org", "load", str(ORG_EXAMPLE)])
    assert result.exit_code == 1
    assert texts.ORG_DB_NOT_READY in result.stderr and "Traceback" not in result.output


def test_help_is_available() -> None:
    result = CliRunner().invoke(main, ["org", "load", "--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output


def test_real_console_script(database_url: str, tmp_path: Path) -> None:
    """The installed `zhitong` command, in a fresh process: stdout, stderr and exit codes."""
    script = Path(sys.executable).parent / "zhitong"
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    env = {**os.environ, "ZHITONG_DATABASE_URL": database_url}

    def zhitong(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)

    ok = zhitong("org", "load", str(ORG_EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "Traceback" not in ok.stderr
    assert ok.stdout.startswith(texts.ORG_LOADED.format(units=12, people=16, categories=11,
                                                        projects=3))
    snapshot = dump_database(database_url)
    bad = write(tmp_path, "bad.yaml", "units:\n  - [unclosed\n")
    refused = zhitong("org", "load", str(bad))
    assert refused.returncode == 1
    assert "YAML 格式错误" in refused.stderr and "Traceback" not in refused.stderr
    assert zhitong("org", "load", str(ORG_EXAMPLE)).returncode == 0
    assert dump_database(database_url) == snapshot


def test_load_help_points_at_an_example_that_ships() -> None:
    """The help used to say 「格式见 org.example.yaml」, a file the project does not have."""
    import re

    from tests.conftest import REPO

    result = CliRunner().invoke(main, ["org", "load", "--help"])
    named = re.findall(r"[\w./-]+\.ya?ml", result.output)
    assert named, result.output
    for name in named:
        assert (REPO / name).is_file(), name
