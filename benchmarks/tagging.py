"""Benchmark of the tagger (issue 4). A script, not a test: `python benchmarks/tagging.py`.

Prints accuracy per field on the held-out set (never trained on), the category confusion
matrix, throughput of `Tagger.tag` beside bare `jieba.lcut` on the same texts in the same run,
the same comparison as whole processes (`zhitong tag` against a bare-jieba `python -c`), the
start-up time for one message, and peak memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domain.tagging import LOW_CONFIDENCE, Tagger  # noqa: E402
from domain.tagging.corpus import default_heldout_path, load_records  # noqa: E402
from domain.tagging.evaluation import evaluate  # noqa: E402
from domain.tagging.lexicon import CATEGORIES  # noqa: E402

SHORT = {
    "land": "land",
    "demolition": "demol",
    "approval": "apprv",
    "finance": "financ",
    "utilities": "util",
    "policy": "policy",
    "labor": "labor",
    "site": "site",
    "logistics": "logist",
    "environment": "env",
    "other": "other",
}

# Bare jieba as a whole process: read the lines, segment each with the global tokenizer.
BARE_MINIMAL = (
    "import sys, logging, jieba; jieba.setLogLevel(logging.WARNING)\n"
    "for line in sys.stdin: jieba.lcut(line.rstrip('\\n'))\n"
)
# The same, with the filter's I/O: JSON in, one line out per input line, flushed.
BARE_IO = (
    "import sys, json, logging, jieba; jieba.setLogLevel(logging.WARNING)\n"
    "for line in sys.stdin:\n"
    "    sys.stdout.write(' '.join(jieba.lcut(json.loads(line)['text'])) + '\\n')\n"
    "    sys.stdout.flush()\n"
)


def mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:.0f} MB"


def _vm_hwm_kb(pid: int) -> int:
    """The child's own peak RSS so far (Linux). getrusage cannot give it: a forked child's
    ru_maxrss starts from the parent's size, which here includes the tagger and jieba."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_process(argv: list[str], stdin_path: Path) -> tuple[float, int, int]:
    """Wall time, peak RSS (KB, 0 if unknown) and output line count of one child process."""
    with open(stdin_path, "rb") as stdin, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:  # VmHWM only grows; the last reading is within 5 ms of exit
            peak = max(peak, _vm_hwm_kb(proc.pid))
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{argv} exited with {proc.returncode}")
        out.seek(0)
        lines = sum(1 for _ in out)
    return elapsed, peak, lines


def tag_command() -> list[str]:
    exe = Path(sys.executable).with_name("zhitong")
    if exe.exists():
        return [str(exe), "tag"]
    found = shutil.which("zhitong")
    if found:
        return [found, "tag"]
    return [sys.executable, "-m", "bot.cli_tag"]


def section(title: str) -> None:
    print(f"\n== {title} ==")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=5000, help="lines in the large process run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per process measurement")
    args = parser.parse_args()

    import jieba

    jieba.setLogLevel(logging.WARNING)
    records = load_records(default_heldout_path())
    texts = [r.text for r in records]

    tagger = Tagger()
    start = time.perf_counter()
    tagger.initialize()
    init_s = time.perf_counter() - start

    # --- accuracy -------------------------------------------------------------------------
    ev = evaluate(tagger.tag, records, LOW_CONFIDENCE)
    issues = sum(1 for r in records if r.intent == "issue")
    section(f"accuracy on held-out set ({len(records)} messages, {issues} problem reports)")
    print(f"intent         {ev.intent_accuracy:7.1%}   (target >= 97%)")
    print(f"category       {ev.category_accuracy:7.1%}   (problem reports; target >= 90%)")
    print(f"urgent         {ev.urgent_accuracy:7.1%}   precision {ev.urgent_precision:.1%} "
          f"(>= 80%), recall {ev.urgent_recall:.1%} (>= 90%)")  # fmt: skip
    print(f"amount_wan     {ev.amount_accuracy:7.1%}   exact (target >= 95%)")
    print(f"milestone      {ev.milestone_accuracy:7.1%}")
    print(f"low confidence {ev.low_confidence} problem reports under {LOW_CONFIDENCE} "
          f"({ev.low_confidence_wrong} of them wrongly categorised)")  # fmt: skip

    section("category confusion matrix (rows: labelled, columns: tagged)")
    print(" " * 8 + "".join(f"{SHORT[c]:>7}" for c in CATEGORIES))
    for gold in CATEGORIES:
        row = [ev.confusion.get((gold, got), 0) for got in CATEGORIES]
        print(f"{SHORT[gold]:<8}" + "".join(f"{n:>7}" if n else f"{'.':>7}" for n in row))
    if ev.errors:
        section("errors")
        for field, message, labelled, tagged in ev.errors:
            print(f"{field:<10} labelled {labelled!s:<12} tagged {tagged!s:<12} {message}")

    # --- in-process throughput ------------------------------------------------------------
    batch = (texts * (1 + 5000 // len(texts)))[:5000]
    jieba.initialize()
    for text in batch[:200]:  # warm both paths
        tagger.tag(text)
        jieba.lcut(text)

    def rate(fn: object) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for text in batch:
                fn(text)  # type: ignore[operator]
            best = min(best, time.perf_counter() - t0)
        return len(batch) / best

    tag_rate = rate(tagger.tag)
    bare_rate = rate(jieba.lcut)
    section(f"throughput in one process ({len(batch)} messages, best of 3)")
    print(f"Tagger.tag     {tag_rate:9.0f} msg/s")
    print(f"jieba.lcut     {bare_rate:9.0f} msg/s")
    print(f"ratio          {tag_rate / bare_rate:9.2f}  (tagger / bare jieba)")

    # --- whole processes ------------------------------------------------------------------
    command = tag_command()
    module_command = [sys.executable, "-m", "bot.cli_tag"]
    section("whole processes (wall time, median of runs; output lines checked)")
    print(f"tagger command: {' '.join(command)}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, lines in (("held-out", texts), ("large", (texts * (1 + args.large // len(texts)))[: args.large])):
            jsonl = Path(tmp) / f"{label}.jsonl"
            plain = Path(tmp) / f"{label}.txt"
            jsonl.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lines), encoding="utf-8")
            plain.write_text("".join(t.replace("\n", " ") + "\n" for t in lines), encoding="utf-8")
            runs: dict[str, list[float]] = {"tag": [], "module": [], "bare": [], "bare_io": []}
            for _ in range(args.repeat):
                t, _, n = run_process(command, jsonl)
                assert n == len(lines), f"zhitong tag answered {n} of {len(lines)} lines"
                runs["tag"].append(t)
                runs["module"].append(run_process(module_command, jsonl)[0])
                runs["bare"].append(run_process([sys.executable, "-c", BARE_MINIMAL], plain)[0])
                runs["bare_io"].append(run_process([sys.executable, "-c", BARE_IO], jsonl)[0])
            tag_s = statistics.median(runs["tag"])
            bare_s = statistics.median(runs["bare"])
            bare_io_s = statistics.median(runs["bare_io"])
            n = len(lines)
            print(f"{label} ({n} lines):")
            module_s = statistics.median(runs["module"])
            print(f"  zhitong tag            {tag_s:6.2f} s  {n / tag_s:8.0f} msg/s")
            print(f"  python -m bot.cli_tag  {module_s:6.2f} s  {n / module_s:8.0f} msg/s   "
                  f"ratios {bare_s / module_s:.2f} / {bare_io_s / module_s:.2f} (filter alone)")  # fmt: skip
            print(f"  bare jieba (lcut only) {bare_s:6.2f} s  {n / bare_s:8.0f} msg/s   ratio {bare_s / tag_s:.2f}")
            print(f"  bare jieba (JSON I/O)  {bare_io_s:6.2f} s  {n / bare_io_s:8.0f} msg/s   ratio {bare_io_s / tag_s:.2f}")
        print("  (ratio = tagger throughput / bare jieba throughput; target >= 0.5)")

        # --- start-up for one message -----------------------------------------------------
        one = Path(tmp) / "one.jsonl"
        one.write_text(json.dumps({"text": "我们项目高压线迁改一直没人管，急！"}, ensure_ascii=False) + "\n", encoding="utf-8")
        starts = [run_process(command, one) for _ in range(max(3, args.repeat))]
        bare_one = [run_process([sys.executable, "-c", BARE_MINIMAL], one) for _ in range(max(3, args.repeat))]
        lazy = [run_process(module_command, one) for _ in range(max(3, args.repeat))]
        section("start-up: one message through a fresh process (median; target <= 3 s)")
        print(f"zhitong tag            {statistics.median(s[0] for s in starts):.2f} s   peak RSS {mb(max(s[1] for s in starts))}")
        print(f"python -m bot.cli_tag  {statistics.median(s[0] for s in lazy):.2f} s   peak RSS {mb(max(s[1] for s in lazy))}"
              "   (the filter without importing the rest of the CLI)")  # fmt: skip
        print(f"bare jieba             {statistics.median(s[0] for s in bare_one):.2f} s   peak RSS {mb(max(s[1] for s in bare_one))}")

    section("this benchmark process")
    print(f"Tagger.initialize()    {init_s:.2f} s")
    print(f"peak RSS               {mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}"
          "  (tagger + jieba's global tokenizer)")  # fmt: skip


if __name__ == "__main__":
    main()
