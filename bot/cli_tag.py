"""`zhitong tag`: JSON lines in, tags out; `zhitong tag train`: rebuild the model from the corpus.

The filter answers every input line with exactly one output line, in order, flushed at once, so
another program can drive it line by line through a pipe. A bad line gets `{"error": ...}` and
the filter carries on.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import click

from domain.tagging import texts
from domain.tagging.tagger import Tagger


def _error(message: str) -> dict[str, Any]:
    return {"error": message}


def tag_line(tagger: Tagger, line: str) -> dict[str, Any]:
    """The output object for one input line (never raises)."""
    if not line.strip():
        return _error(texts.ERROR_EMPTY_LINE)
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return _error(texts.ERROR_NOT_JSON.format(column=exc.pos + 1))
    except (ValueError, RecursionError):
        return _error(texts.ERROR_NOT_JSON_DEEP)
    if not isinstance(data, dict):
        return _error(texts.ERROR_NOT_OBJECT)
    text = data.get("text")
    if not isinstance(text, str):
        return _error(texts.ERROR_NO_TEXT)
    if not text.strip():
        return _error(texts.ERROR_BLANK_TEXT)
    try:
        out = tagger.tag(text).as_json()
    except Exception as exc:  # one odd message must not stop the stream
        return _error(texts.ERROR_INTERNAL.format(detail=type(exc).__name__))
    if "id" in data:  # lets a caller match answers to questions without counting lines
        out = {"id": data["id"], **out}
    return out


def run_filter(tagger: Tagger, lines: Iterable[str], out: IO[bytes]) -> int:
    """Tag each line; returns how many lines were answered."""
    count = 0
    for raw in lines:
        line = raw[:-1] if raw.endswith("\n") else raw
        if line.endswith("\r"):
            line = line[:-1]
        answer = json.dumps(tag_line(tagger, line), ensure_ascii=False)
        # backslashreplace turns a lone surrogate from the input into a JSON \u escape instead
        # of failing to encode; the line stays valid JSON.
        out.write(answer.encode("utf-8", "backslashreplace") + b"\n")
        out.flush()
        count += 1
    return count


def _quiet_jieba() -> None:
    """jieba logs its dictionary loading at DEBUG on stderr; the pipe's reader wants only errors."""
    import jieba  # sets its logger to DEBUG on import, so the level is set after importing

    jieba.setLogLevel(logging.WARNING)


def _stdin_lines() -> IO[str]:
    # Only "\n" ends a line (a stray "\r" or U+2028 inside a message must not split it), and
    # undecodable bytes become U+FFFD instead of aborting the stream.
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")


@click.group("tag", invoke_without_command=True)
@click.pass_context
def tag(ctx: click.Context) -> None:
    """标注诉求:每行输入 JSON {"text": ...},每行输出 intent/category/urgent/amount_wan/milestone/keywords/confidence。"""
    if ctx.invoked_subcommand is not None:
        return
    _quiet_jieba()
    tagger = Tagger()
    tagger.initialize()
    try:
        run_filter(tagger, _stdin_lines(), sys.stdout.buffer)
    except BrokenPipeError:
        # The reader went away; nothing left to answer. Point stdout at devnull so the
        # interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@tag.command("train")
@click.option(
    "--corpus", "corpus_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None, help="语料 JSONL(默认:包内 corpus.jsonl)",
)  # fmt: skip
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="模型输出路径(默认:包内 model.json)",
)  # fmt: skip
def tag_train(corpus_path: Path | None, out_path: Path | None) -> None:
    """用语料重新训练分类模型(held-out 语料不参与训练)。"""
    from domain.tagging.corpus import CorpusError, default_corpus_path, train_model
    from domain.tagging.tagger import default_model_path, default_userdict_path

    _quiet_jieba()
    corpus_path = corpus_path or default_corpus_path()
    out_path = out_path or default_model_path()
    try:
        model, count = train_model(corpus_path, default_userdict_path())
    except CorpusError as exc:  # the line to fix, not a traceback
        click.echo(str(exc), err=True)
        sys.exit(1)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_text(
        json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    tmp.replace(out_path)  # a reader never sees half a model
    click.echo(texts.TRAINED.format(count=count, path=out_path))


if __name__ == "__main__":  # `python -m bot.cli_tag`: the filter without the rest of the CLI
    tag()


@tag.command("corrections")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="写出的 JSONL 文件(可追加到 corpus.jsonl 后运行 zhitong tag train)。")
def tag_corrections(out_path: Path) -> None:
    """导出报告人「改类别」造成的类别更正,作为带标注的语料行。"""
    import asyncio

    from domain.tagging import corrections_to_jsonl

    records = asyncio.run(_load_corrections())
    lines = corrections_to_jsonl(records)
    out_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    click.echo(texts.CORRECTIONS_WRITTEN.format(count=len(lines), path=out_path))


async def _load_corrections() -> list[tuple[str, str, str]]:
    from bot.settings import Settings
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(Settings().database_url)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            # Rows from transfers (recorded before a transfer stopped re-labelling tickets) say
            # which unit took a ticket over, not what the problem was: not training material.
            return [(c.text, c.old_category, c.new_category)
                    for c in await uow.tickets.corrections() if c.source != "transfer"]
    finally:
        await engine.dispose()
