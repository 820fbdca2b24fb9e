"""`zhitong demo` plays its whole story and ends with the expected ticket states."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo

pytestmark = pytest.mark.e2e


def test_demo_story_ends_with_one_closed_and_one_rerouted_ticket(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_demo(lines.append, "aiogram", str(tmp_path)) == 0
    transcript = "\n".join(lines)
    assert "您已作为演示县冷链物流中心的企业联系人加入" in transcript
    assert "按「😞 不满意」" in transcript and "按「😊 满意」" in transcript
    assert "已退回重点项目办重新分派" in transcript
    states = [line for line in lines if line.startswith("  #")]
    assert len(states) == 2
    assert "已办结" in states[0] and "重办 1 次" in states[0] and "满意" in states[0]
    assert "办理中" in states[1] and "演示县发改局" in states[1]
    assert "类别 approval" in states[1]  # re-routed to 发改局, still an approval problem
    assert any(line.startswith("  受理 2 件") for line in lines)
