"""Rules on their own: traditional conversion, urgency (and its negatives), milestones."""

from __future__ import annotations

import json

import pytest

from domain.tagging import to_simplified
from domain.tagging.corpus import default_corpus_path, default_heldout_path
from domain.tagging.normalize import SUPPLEMENT_CHARS, SUPPLEMENT_PHRASES, normalize
from domain.tagging.rules import is_urgent, milestone

# --- traditional characters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("我們項目高壓線遷改一直沒人管，急！", "我们项目高压线迁改一直没人管，急！"),
        ("環評批覆什麼時候能下來", "环评批复什么时候能下来"),
        ("乾淨的廠房", "干净的厂房"),  # a phrase fixes what char-by-char would not
        ("頭髮", "头发"),
        ("他很沈默", "他很沉默"),
        ("專項債資金撥付", "专项债资金拨付"),
        ("聯合起來擡價", "联合起来抬价"),
    ],
)
def test_traditional_to_simplified(traditional: str, simplified: str) -> None:
    assert to_simplified(traditional) == simplified


def test_simplified_text_is_returned_unchanged() -> None:
    text = "本月完成投资2300万元，主体已封顶"
    assert to_simplified(text) is text


def test_conversion_agrees_with_opencc_on_corpus_messages() -> None:
    """Same result as OpenCC's t2s, plus the few mainland usages it leaves alone (批覆 → 批复)."""
    from opencc import OpenCC

    t2s, s2t = OpenCC("t2s"), OpenCC("s2t")
    texts = []
    for path in (default_corpus_path(), default_heldout_path()):
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    for text in texts[::3]:
        traditional = s2t.convert(text)
        expected = t2s.convert(traditional)
        for phrase, target in SUPPLEMENT_PHRASES.items():
            expected = expected.replace(phrase, target)  # t2s keeps 批覆 as it is
        expected = expected.translate({ord(a): b for a, b in SUPPLEMENT_CHARS.items()})
        assert to_simplified(traditional) == expected



def test_normalize_makes_digits_and_punctuation_half_width() -> None:
    assert normalize("  完成投資２３００萬元！ ") == "完成投资2300万元!"


# --- urgency -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我们项目高压线迁改一直没人管，急！",
        "非常紧急，请马上协调",
        "特别急",
        "突然停电，生产线全停了",
        "村民堵在工地门口不让施工，已经两天了",
        "环保局突然要求停产整治",
        "工地旁边有安全隐患",
        "车间里有氨气泄漏，工人已经撤出来了",
        "农民工工资拖欠三个月了",
        "分包商跑路了，工人拿不到工资",
        "有人扬言要砸我们的设备",
        "工人晚上出去吃饭被当地人打了",
        "几个人围着项目经理要钱，说不给就不让干",
        "之前停电，现在又停了",
        "马上就要停工了",
        "督察期间要求所有工地停止土方作业",
        "厂里急缺一批焊工",
    ],
)
def test_urgent(text: str) -> None:
    assert is_urgent(text)


@pytest.mark.parametrize(
    "text",
    [
        "不急，方便的时候回复一下",
        "不是很急，下周再说也行",
        "这事不着急",
        "也没那么急",
        "急不急都行，看你们安排",
        "之前停电的问题已经解决了",
        "上个月停过一次工，现在已经恢复",
        "停电问题已恢复，谢谢",
        "没有停工，就是进度慢一点",
        "不影响生产，只是想咨询一下",
        "应急管理局来检查，提了几条意见",
        "我们的罐车需要办危险货物运输通行证",
        "安全隐患排查发现配电房有问题",
        "没有拖欠工资",
        "担心会影响工期",
        "整改要停产一个月，能不能分批",
        "园区门口早晚高峰太堵了",
        "不然他们不让我们施工",
        "当地的混凝土站不让外地的进来",
        "本月完成投资2300万元，主体已封顶",
        "想咨询一下高新技术企业认定",
    ],
)
def test_not_urgent(text: str) -> None:
    assert not is_urgent(text)


# --- milestones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本月完成投资2300万元，主体已封顶", "topped_out"),
        ("项目已于3月18日正式开工", "started"),
        ("今天上午项目正式签约", "signed"),
        ("综合楼已竣工验收", "completed"),
        ("一号生产线已经投产，二号线正在调试", "in_production"),
        ("项目已于3月开工，目前主体已封顶", "topped_out"),  # the furthest reached
        ("与县政府签订投资协议，计划年内开工", "signed"),  # the plan is not reached
        ("計劃下月開工，主體已經封頂", "topped_out"),
        ("设备安装完成70%，预计下月试生产", None),
        ("确保年底投产", None),
        ("施工进度正常，预计年底主体完工", None),
    ],
)
def test_milestone_in_progress_reports(text: str, expected: str | None) -> None:
    assert milestone(normalize(text), progress=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("迟迟不能开工", None),
        ("开工手续一直办不下来", None),
        ("施工许可证没下来，开不了工", None),
        ("营业执照办不下来", None),
        ("想请县领导参加我们的投产仪式", None),
        ("项目已经封顶了，但电还没通", "topped_out"),  # a problem report may say what is done
        ("一期已经投产了，二期用地指标还没着落", "in_production"),
    ],
)
def test_milestone_in_problem_reports_needs_a_sign_of_completion(
    text: str, expected: str | None
) -> None:
    assert milestone(normalize(text), progress=False) == expected
