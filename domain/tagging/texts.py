"""User-facing Chinese text of the tagging package (one place, for review and translation)."""

from __future__ import annotations

ERROR_EMPTY_LINE = "空行:请输入一行 JSON,例如 {\"text\": \"诉求内容\"}"
ERROR_NOT_JSON = "不是有效的 JSON(第 {column} 个字符附近有误)"
ERROR_NOT_JSON_DEEP = "不是有效的 JSON(嵌套过深)"
ERROR_NOT_OBJECT = "JSON 应为对象,例如 {\"text\": \"诉求内容\"}"
ERROR_NO_TEXT = "缺少 text 字段,或 text 不是文字"
ERROR_BLANK_TEXT = "text 为空,没有可以分析的内容"
ERROR_INTERNAL = "这一行没能分析出结果({detail}),请检查内容后重试"
ERROR_MODEL_MISSING = "找不到分类模型文件 {path},请先运行 zhitong tag train"
ERROR_MODEL_BROKEN = "分类模型文件 {path} 无法读取,请运行 zhitong tag train 重新生成"
ERROR_BAD_CORPUS_LINE = "语料第 {lineno} 行无效:{detail}"

TRAINED = "已用 {count} 条语料训练模型,写入 {path}"
# For `zhitong tag corrections` once it is wired to the database.
CORRECTIONS_WRITTEN = "已导出 {count} 条更正语料到 {path}"

CATEGORY_NAMES = {
    "land": "用地保障",
    "demolition": "征地拆迁",
    "approval": "审批手续",
    "finance": "资金融资",
    "utilities": "水电气网配套",
    "policy": "惠企政策",
    "labor": "用工人才",
    "site": "施工环境",
    "logistics": "交通物流",
    "environment": "环保安全",
    "other": "其他",
}

MILESTONE_NAMES = {
    "signed": "签约",
    "started": "开工",
    "topped_out": "封顶",
    "completed": "竣工",
    "in_production": "投产",
}

INTENT_NAMES = {"issue": "问题诉求", "progress": "进度报告"}
