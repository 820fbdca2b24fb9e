"""`zhitong tag`: exactly one answer per input line, in order, flushed; bad lines get errors."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli_tag import run_filter, tag, tag_line
from domain.tagging import Tagger, texts
from domain.tagging.corpus import default_corpus_path

REPO = Path(__file__).resolve().parents[2]
FIELDS = {"intent", "category", "urgent", "amount_wan", "milestone", "keywords", "confidence"}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    t = Tagger()
    t.initialize()
    return t


def filter_lines(tagger: Tagger, data: bytes) -> list[dict[str, object]]:
    out = io.BytesIO()
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="\n")
    run_filter(tagger, lines, out)
    return [json.loads(line) for line in out.getvalue().decode("utf-8").splitlines()]


def test_one_answer_per_line_in_order_with_errors(tagger: Tagger) -> None:
    data = "\n".join(
        [
            json.dumps({"text": "我们项目高压线迁改一直没人管，急！"}, ensure_ascii=False),
            "",  # empty line
            "   ",  # blank line
            "{not json",
            "[1, 2]",
            "42",
            json.dumps({"txt": "wrong key"}),
            json.dumps({"text": 123}),
            json.dumps({"text": None}),
            json.dumps({"text": "   "}),
            json.dumps({"text": "本月完成投资2300万元，主体已封顶"}, ensure_ascii=False),
        ]
    ).encode("utf-8")
    answers = filter_lines(tagger, data + b"\n")
    assert len(answers) == 11
    assert set(answers[0]) == FIELDS and answers[0]["category"] == "utilities"
    assert answers[1] == {"error": texts.ERROR_EMPTY_LINE}
    assert answers[2] == {"error": texts.ERROR_EMPTY_LINE}
    assert answers[3] == {"error": texts.ERROR_NOT_JSON.format(column=2)}
    assert answers[4] == {"error": texts.ERROR_NOT_OBJECT}
    assert answers[5] == {"error": texts.ERROR_NOT_OBJECT}
    assert answers[6] == {"error": texts.ERROR_NO_TEXT}
    assert answers[7] == {"error": texts.ERROR_NO_TEXT}
    assert answers[8] == {"error": texts.ERROR_NO_TEXT}
    assert answers[9] == {"error": texts.ERROR_BLANK_TEXT}
    assert answers[10]["intent"] == "progress" and answers[10]["amount_wan"] == 2300.0


def test_only_newline_ends_a_line(tagger: Tagger) -> None:
    # CRLF endings, a stray CR and U+2028 inside a message, no newline after the last line.
    data = (
        json.dumps({"text": "停电了\r急"}, ensure_ascii=False).encode() + b"\r\n"
        + json.dumps({"text": "贷款\u2028批不下来"}, ensure_ascii=False).encode() + b"\n"
        + json.dumps({"text": "最后一行"}, ensure_ascii=False).encode()
    )  # fmt: skip
    answers = filter_lines(tagger, data)
    assert len(answers) == 3
    assert all("error" not in a for a in answers)


def test_bad_bytes_and_surrogates_do_not_crash(tagger: Tagger) -> None:
    data = b'{"text": "\xff\xfe\xe4\xb8"}\n' + b'{"text": "\\ud800 \xe6\x80\xa5"}\n'
    answers = filter_lines(tagger, data)
    assert len(answers) == 2
    assert set(answers[0]) == FIELDS and set(answers[1]) == FIELDS


def test_deeply_nested_json_is_an_error_not_a_crash(tagger: Tagger) -> None:
    assert tag_line(tagger, "[" * 100_000) == {"error": texts.ERROR_NOT_JSON_DEEP}


def test_id_is_echoed(tagger: Tagger) -> None:
    answer = tag_line(tagger, json.dumps({"id": 7, "text": "专项债一直没拨付"}, ensure_ascii=False))
    assert answer["id"] == 7 and answer["category"] == "finance"


def test_click_command_reads_stdin_and_writes_stdout() -> None:
    lines = [json.dumps({"text": "招工太难了"}, ensure_ascii=False), "", "x"]
    result = CliRunner().invoke(tag, [], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert len(answers) == 3
    assert answers[0]["category"] == "labor"
    assert answers[1] == {"error": texts.ERROR_EMPTY_LINE}
    assert "error" in answers[2]


def test_registered_in_the_main_cli() -> None:
    from bot.cli import main

    assert main.get_command(None, "tag") is tag  # type: ignore[arg-type]


def test_streams_line_by_line() -> None:
    """The answer to each line arrives before the next line is written (flushed, unbuffered)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli_tag"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for text in ("高压线迁改没人管", "", "环评批复卡住了"):
            line = json.dumps({"text": text}, ensure_ascii=False) if text else ""
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no answer within 60 s"
            answer = json.loads(proc.stdout.readline())
            assert ("error" in answer) == (text == "")
        proc.stdin.close()
        assert proc.stdout.read() == b""
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_train_writes_a_model_the_tagger_loads(tmp_path: Path) -> None:
    with open(default_corpus_path(), encoding="utf-8") as fh:
        sample = [line for i, line in enumerate(fh) if i % 6 == 0]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(sample), encoding="utf-8")
    out = tmp_path / "model.json"
    result = CliRunner().invoke(tag, ["train", "--corpus", str(corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == texts.TRAINED.format(count=len(sample), path=out)
    t = Tagger(model_path=out)
    t.initialize()
    assert t.tag("高压线迁改没人管").category == "utilities"


def test_a_failing_message_gets_an_error_line_and_the_stream_goes_on(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tagger.tag

    def flaky(text: str) -> object:
        if "boom" in text:
            raise RuntimeError("boom")
        return real(text)

    monkeypatch.setattr(tagger, "tag", flaky)
    data = b'{"text": "boom"}\n{"text": "\xe9\xab\x98\xe5\x8e\x8b\xe7\xba\xbf\xe8\xbf\x81\xe6\x94\xb9"}\n'
    answers = filter_lines(tagger, data)
    assert answers[0] == {"error": texts.ERROR_INTERNAL.format(detail="RuntimeError")}
    assert answers[1]["category"] == "utilities"


def test_train_reports_a_bad_corpus_line(tmp_path: Path) -> None:
    corpus = tmp_path / "bad.jsonl"
    good = json.dumps(
        {"text": "用地指标没批", "intent": "issue", "category": "land", "urgent": False,
         "amount_wan": None, "milestone": None},
        ensure_ascii=False,
    )  # fmt: skip
    corpus.write_text(good + "\n" + '{"text": "x", "intent": "issue", "category": "moon"}\n')
    result = CliRunner().invoke(tag, ["train", "--corpus", str(corpus), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert texts.ERROR_BAD_CORPUS_LINE.format(lineno=2, detail="category 'moon'") in result.output
    assert not (tmp_path / "m").exists()


def test_corrections_export_reads_the_database(sqlite_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A reporter's 改类别 stored in the database comes out as a labelled corpus line."""
    import asyncio
    from datetime import UTC, datetime

    from storage.models import TagCorrection
    from tests.factories import make_uow_factory

    async def seed() -> None:
        engine, uow_factory = make_uow_factory(sqlite_url)
        async with uow_factory() as uow:
            uow.tickets.add_correction(TagCorrection(
                text="厂区门口的路一直没修,大车进不来", old_category="utilities",
                new_category="logistics", source="reporter", created_at=datetime.now(UTC)))
            # An old transfer's re-label is not a correction of the tag and is left out.
            uow.tickets.add_correction(TagCorrection(
                text="规划许可证一直办不下来", old_category="approval",
                new_category="policy", source="transfer", created_at=datetime.now(UTC)))
            await uow.commit()
        await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    out = tmp_path / "corrections.jsonl"
    result = CliRunner().invoke(tag, ["corrections", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [line] = out.read_text(encoding="utf-8").splitlines()
    row = json.loads(line)
    assert (row["text"], row["category"]) == ("厂区门口的路一直没修,大车进不来", "logistics")
