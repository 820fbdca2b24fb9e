"""The Tagger as others use it: API contract, private tokenizer, model quality, duplicates."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jieba
import pytest

from domain.tagging import (
    CATEGORIES,
    LOW_CONFIDENCE,
    MILESTONES,
    CorrectionRecord,
    Tagger,
    TagResult,
    corrections_to_jsonl,
)
from domain.tagging.corpus import (
    default_corpus_path,
    default_heldout_path,
    load_records,
    read_records,
    source_digest,
    train_model,
)
from domain.tagging.evaluation import evaluate
from domain.tagging.tagger import default_model_path, default_userdict_path


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    t = Tagger(extra_words=("县供电公司", "城关镇人民政府"))
    t.initialize()
    return t


# --- contract ------------------------------------------------------------------------------


def test_result_fields_and_json(tagger: Tagger) -> None:
    r = tagger.tag("我们项目高压线迁改一直没人管，急！")
    assert isinstance(r, TagResult)
    assert (r.intent, r.category, r.urgent) == ("issue", "utilities", True)
    assert r.amount_wan is None and r.milestone is None
    assert "高压线迁改" in r.keywords
    assert 0.0 <= r.confidence <= 1.0
    assert r.category_scores[0][0] == r.category
    scores = [p for _, p in r.category_scores]
    assert scores == sorted(scores, reverse=True)
    assert set(r.as_json()) == {
        "intent", "category", "urgent", "amount_wan", "milestone", "keywords", "confidence"
    }  # fmt: skip
    json.dumps(r.as_json(), ensure_ascii=False)  # serialisable as it is
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.category = "land"  # type: ignore[misc]


def test_progress_report(tagger: Tagger) -> None:
    r = tagger.tag("本月完成投资2300万元，主体已封顶")
    assert (r.intent, r.category, r.amount_wan, r.milestone) == (
        "progress", "other", 2300.0, "topped_out"
    )  # fmt: skip
    assert not r.urgent


def test_traditional_input_is_tagged_like_simplified(tagger: Tagger) -> None:
    simplified = tagger.tag("环评批复卡在市生态环境局，说要补充材料，急")
    traditional = tagger.tag("環評批覆卡在市生態環境局，說要補充材料，急")
    assert traditional.category == simplified.category == "approval"
    assert traditional.urgent and simplified.urgent
    assert traditional.keywords == simplified.keywords


def test_urgency_negatives_through_the_tagger(tagger: Tagger) -> None:
    assert not tagger.tag("停电的事不急，方便时帮忙问问供电所").urgent
    assert tagger.tag("突然停电，生产线全停了").urgent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("用地指标到现在还没批下来", "land"),
        ("还有三户没签拆迁协议，坟也没迁", "demolition"),
        ("施工许可证能不能容缺办理", "approval"),
        ("专项债3000万一直没拨付", "finance"),
        ("变压器增容申请交了一个月", "utilities"),
        ("招商时承诺的设备补贴还没兑现", "policy"),
        ("今年招工太难了，普工缺五十多人", "labor"),
        ("村民阻工，不让施工车辆进场", "site"),
        ("大件设备运输要办超限通行证", "logistics"),
        ("重污染天气又要错峰生产", "environment"),
        ("想参加省里的展会，县里能组团吗", "other"),
    ],
)
def test_each_category(tagger: Tagger, text: str, category: str) -> None:
    assert tagger.tag(text).category == category


def test_blank_and_odd_text_does_not_raise(tagger: Tagger) -> None:
    for text in ("", "   ", "😀😀", "a" * 5000, "\u2028", "12345"):
        r = tagger.tag(text)
        assert r.category in CATEGORIES and r.intent in ("issue", "progress")


def test_initialize_is_idempotent(tagger: Tagger) -> None:
    tokenizer, model = tagger._tokenizer, tagger._model
    tagger.initialize()
    assert tagger._tokenizer is tokenizer and tagger._model is model


def test_constructor_does_no_work() -> None:
    t = Tagger(extra_words=("县供电公司",))
    assert t._tokenizer is None and t._model is None


def test_extra_words_are_kept_whole(tagger: Tagger) -> None:
    assert "城关镇人民政府" in tagger.tag("城关镇人民政府一直没回复我们").keywords


def test_global_jieba_tokenizer_is_untouched(tagger: Tagger) -> None:
    before_initialized = jieba.dt.initialized
    before_total = jieba.dt.total
    fresh = Tagger(extra_words=("直通车测试单位甲乙丙",))
    fresh.initialize()
    fresh.tag("直通车测试单位甲乙丙的高压线迁改")
    assert jieba.dt.initialized == before_initialized
    assert jieba.dt.total == before_total
    assert "直通车测试单位甲乙丙" not in jieba.dt.FREQ
    assert "高压线迁改" not in jieba.dt.FREQ
    assert fresh._tokenizer is not jieba.dt


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    from domain.tagging import ModelUnavailable

    t = Tagger(model_path=tmp_path / "none.json")
    with pytest.raises(ModelUnavailable) as info:
        t.initialize()
    assert "zhitong tag train" in info.value.message


# --- model quality on messages never trained on ----------------------------------------


def test_heldout_is_never_trained_on() -> None:
    train = {r.text for r in load_records(default_corpus_path())}
    held = [r.text for r in load_records(default_heldout_path())]
    assert len(held) >= 15 * 12
    assert not train.intersection(held)


def test_corpus_size_per_class() -> None:
    counts: dict[str, int] = {}
    for r in load_records(default_corpus_path()):
        counts[r.label] = counts.get(r.label, 0) + 1
    assert set(counts) == {*CATEGORIES, "progress"}
    assert min(counts.values()) >= 40


def test_heldout_accuracy_meets_targets(tagger: Tagger) -> None:
    ev = evaluate(tagger.tag, load_records(default_heldout_path()), LOW_CONFIDENCE)
    assert ev.intent_accuracy >= 0.97
    assert ev.category_accuracy >= 0.90
    assert ev.urgent_recall >= 0.90
    assert ev.urgent_precision >= 0.80
    assert ev.amount_accuracy >= 0.95
    assert ev.milestone_accuracy >= 0.90
    # Low confidence is where mistakes are: asking the reporter must catch some of them.
    assert ev.low_confidence <= 0.1 * ev.category_total


def test_shipped_model_was_trained_on_the_shipped_corpus() -> None:
    """Fails when the corpus, dictionary or lexicon changed without `zhitong tag train`."""
    with open(default_model_path(), encoding="utf-8") as fh:
        meta = json.load(fh)["meta"]
    assert meta["source_digest"] == source_digest(default_corpus_path(), default_userdict_path())


def test_training_is_reproducible_and_learns(tmp_path: Path) -> None:
    records = load_records(default_corpus_path())
    small = [r for i, r in enumerate(records) if i % 4 == 0]
    corpus = tmp_path / "small.jsonl"
    corpus.write_text(
        "".join(
            json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n" for r in small
        ),
        encoding="utf-8",
    )
    first, n = train_model(corpus, default_userdict_path())
    second, _ = train_model(corpus, default_userdict_path())
    assert n == len(small)
    assert first.to_json() == second.to_json()
    model_path = tmp_path / "model.json"
    model_path.write_text(json.dumps(first.to_json()), encoding="utf-8")
    t = Tagger(model_path=model_path)
    t.initialize()
    ev = evaluate(t.tag, load_records(default_heldout_path()), LOW_CONFIDENCE)
    assert ev.category_accuracy > 0.7  # far above the 1-in-11 of guessing


# --- duplicates ----------------------------------------------------------------------------


def test_similarity(tagger: Tagger) -> None:
    a = "我们项目的高压线迁改一直没人管，请尽快协调"
    same = "高压线迁改的事情一直没人管，麻烦尽快协调一下"
    traditional = "我們項目的高壓線遷改一直沒人管，請盡快協調"
    other = "招商时承诺的设备补贴还没兑现"
    assert tagger.similarity(a, a) == pytest.approx(1.0)
    assert tagger.similarity(a, traditional) == pytest.approx(1.0)
    assert tagger.similarity(a, same) > 0.5
    assert tagger.similarity(a, other) < 0.2
    assert tagger.similarity(a, "") == 0.0
    assert tagger.similarity(a, same) == pytest.approx(tagger.similarity(same, a))


# --- corrections ---------------------------------------------------------------------------


def test_corrections_become_corpus_lines() -> None:
    lines = corrections_to_jsonl(
        [
            CorrectionRecord("厂门口的路口要装红绿灯，很危险", "utilities", "logistics"),
            ("厂门口的路口要装红绿灯，很危险", "utilities", "logistics"),  # repeated text
            ("贷款800万批不下来", "finance", "finance"),  # nothing was corrected
            ("有人天天来工地要钱", "site", "nonsense"),  # unknown category
            ("   ", "land", "site"),
        ]
    )
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["category"] == "logistics" and record["was"] == "utilities"
    assert record["intent"] == "issue" and record["urgent"] is True
    (parsed,) = read_records(lines)  # the corpus reader accepts it as it is
    assert parsed.category == "logistics"


def test_milestone_codes_are_the_contract() -> None:
    assert MILESTONES == ("signed", "started", "topped_out", "completed", "in_production")
