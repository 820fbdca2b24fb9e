"""User-facing Chinese text of the domain layer (one place, for review and translation)."""

from __future__ import annotations

from datetime import date

STATUS_NAMES = {
    "submitted": "待受理",
    "in_progress": "办理中",
    "resolved": "已办结,待评价",
    "closed": "已办结",
}

ACTION_NAMES = {
    "submit": "提交",
    "accept": "受理",
    "transfer": "转办",
    "return": "退回",
    "reroute": "重新分派",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "refuse_extension": "驳回延期",
    "resolve": "办结",
    "rate": "评价",
    "reopen": "重办",
    "close_unrated": "逾期未评价,自动办结",
    "add_co_unit": "增加协办单位",
    "link_duplicate": "合并重复诉求",
}

RATING_NAMES = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}

ROLE_NAMES = {"enterprise": "企业", "official": "责任单位", "leader": "分包领导", "admin": "管理员",
              "service_officer": "首席服务员", "system": "系统"}


def illegal_transition(status: str, action: str) -> str:
    return f"该诉求当前为「{STATUS_NAMES.get(status, status)}」,不能{ACTION_NAMES.get(action, action)}。"


def forbidden(action: str) -> str:
    return f"您没有权限对该诉求进行「{ACTION_NAMES.get(action, action)}」操作。"


def ticket_not_found(number: str) -> str:
    return f"没有找到编号为 {number} 的诉求,或您无权查看。"


def already_done(action: str) -> str:
    return f"该诉求已{ACTION_NAMES.get(action, action)}过了,无需重复操作。"


def reason_required(action: str) -> str:
    return f"{ACTION_NAMES.get(action, action)}需要填写原因。"


EXTENSION_PENDING = "该诉求已有待审批的延期申请。"
NO_EXTENSION_PENDING = "该诉求没有待审批的延期申请。"
EXTENSION_AFTER_DUE = "已超过办理时限,不能再申请延期;请尽快办结,或联系重点项目办说明情况。"
EXTENSION_NOT_LATER = "新的办理时限必须晚于当前时限。"
TRANSFER_SAME_UNIT = "不能转办给当前承办单位本身。"
RESULT_REQUIRED = "办结需要填写办理结果。"


# --- project colours (domain/progress.py) --------------------------------------------------------


def reason_first_report_grace(last_day: date) -> str:
    """Yellow for a newly loaded project that has not reported yet (首报宽限期)."""
    return (f"新纳入项目,尚在首报宽限期(至 {last_day.isoformat()}),"
            "暂不因未报送进度评为红色或黑色")
