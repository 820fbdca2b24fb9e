"""All user-facing Chinese text of the desk (one place, for review and translation).

Everything here returns HTML for Telegram's parse_mode=HTML; user text is escaped with `esc`.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.texts import RATING_NAMES, STATUS_NAMES

# Button words (DESIGN §11 contract).
BTN_SUBMIT = "✅ 提交"
BTN_CANCEL = "✖ 取消"
BTN_CHANGE_CATEGORY = "🔄 改类别"
BTN_ACCEPT = "📥 受理"
BTN_TRANSFER = "↪ 转办"
BTN_RETURN = "↩ 退回"
BTN_RESOLVE = "✅ 办结"
BTN_EXTEND = "⏳ 延期"
BTN_SATISFIED = "😊 满意"
BTN_BASICALLY = "🙂 基本满意"
BTN_UNSATISFIED = "😞 不满意"
BTN_APPROVE = "✅ 批准延期"
BTN_REFUSE = "✖ 驳回延期"
BTN_BACK = "« 返回"
BTN_PREV = "« 上一页"
BTN_NEXT = "下一页 »"
BTN_LINK = "🔗 是,合并到该诉求"
BTN_NOT_DUP = "🆕 不是,新建诉求"


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def fmt_time(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


def rating_name(rating: str | None) -> str:
    return RATING_NAMES.get(rating or "", "未评价")


# --- onboarding -------------------------------------------------------------------------------

START_NO_TOKEN = (
    "您好,这里是<b>项目直通车</b>。\n"
    "企业联系人请扫描重点项目办发放的二维码加入;政府工作人员请使用本单位的邀请链接。\n"
    "加入后,直接发文字或照片即可反映问题、报送进度。"
)
INVITE_INVALID = "邀请链接无效。请向重点项目办索取新的二维码。"
INVITE_USED = "该邀请链接已被使用过。每个邀请只能使用一次,请向重点项目办索取新的二维码。"
INVITE_EXPIRED = "该邀请链接已过期。请向重点项目办索取新的二维码。"
INVITE_REMOVED_PERSON = (
    "您已不在组织名单中,账号已停用,邀请链接不能重新启用它。如需恢复,请联系重点项目办把您加回名单。"
)
NOT_REGISTERED = (
    "您还没有加入项目直通车。请扫描重点项目办发放的二维码(或点击邀请链接)加入后再使用。"
)


def welcome_enterprise(name: str, project: str) -> str:
    return (
        f"{esc(name)},您好!您已作为<b>{esc(project)}</b>的企业联系人加入项目直通车。\n"
        "遇到问题直接发文字(可附照片)给我,我会转给责任单位并跟踪到办结。\n"
        "常用命令:/mine 我的诉求,/help 帮助。"
    )


def welcome_official(name: str, unit: str) -> str:
    return (
        f"{esc(name)},您好!您已作为<b>{esc(unit)}</b>的工作人员加入项目直通车。\n"
        "本单位的诉求会推送给您,请及时受理。常用命令:/todo 待办,/help 帮助。"
    )


def welcome_back(name: str) -> str:
    return f"{esc(name)},您好!您已加入项目直通车。发送 /help 查看可用命令。"


HELP_ENTERPRISE = (
    "<b>项目直通车 · 企业</b>\n"
    "• 直接发文字(或带说明的照片)反映问题,确认后提交;\n"
    "• /mine 查看本企业的诉求和办理进度;\n"
    "• /ticket 编号 查看某件诉求的详情;\n"
    "• /cancel 放弃正在填写的内容。"
)
HELP_OFFICIAL = (
    "<b>项目直通车 · 工作人员</b>\n"
    "• /todo 本单位待办(按时限排序);/overdue 超期诉求;\n"
    "• /ticket 编号 查看详情和处理记录;\n"
    "• 在诉求卡片上点「受理」「转办」「退回」「办结」「延期」;\n"
    "• /stats 办理统计;/project 项目编号 查看项目状态;\n"
    "• /cancel 放弃正在填写的内容。"
)
HELP_ADMIN_EXTRA = ("\n• /report 代企业反映问题(代为反映);\n• /todo 也列出全部待办;\n"
                    "• /export 导出问题台账;/dashboard 大屏登录链接。")

# --- reporting --------------------------------------------------------------------------------

UNSUPPORTED = "抱歉,暂不支持这类消息。请用文字描述问题,可以附带照片。"
PHOTO_NEEDS_TEXT = "收到照片。请再发一段文字说明遇到的问题,我会把照片一起附上。"
EMPTY_TEXT = "消息是空的。请用文字描述遇到的问题。"
RATE_LIMITED = "您发送得太快了,请稍等一分钟再试。"
UNKNOWN_COMMAND = "没有这个命令。发送 /help 查看可用命令。"
NOTHING_TO_CANCEL = "当前没有正在填写的内容。"
CANCELLED = "已取消。"
DRAFT_CANCELLED = "已取消,本条未提交。"
STALE_BUTTON = "该按钮已失效,请重新发送。"
DONE_ALREADY = "已处理过了,无需重复操作。"
NOT_YOURS = "这不是您的内容,无法操作。"
NO_PROJECT = "您还没有关联的项目,请联系重点项目办。"
NOT_A_REPORTER = "您的账号不能直接反映问题。工作人员请使用 /todo 查看待办。"
CHOOSE_PROJECT = "您关联了多个项目,请选择本次反映的是哪个项目:"
CHOOSE_CATEGORY = "请选择问题类别:"
CHOOSE_PROJECT_FOR_REPORT = "代为反映:请选择项目,然后发送问题描述。"
PROXY_NOT_ALLOWED = "只有首席服务员和管理员可以代为反映。"
BAD_CALLBACK = "无法识别的操作。"
EDIT_APPLIED = "已按您修改后的内容更新了上面的确认卡片,请核对后点「提交」。"
EDIT_NOT_APPLIED = ("修改已发出的消息不会同步到系统,已提交的内容保持不变。"
                    "如需补充或更正,请直接发送一条新消息。")
SYSTEM_ERROR = "系统暂时出了点问题,这条消息没有处理成功,请稍后再发一次。"
# Told once while the database cannot be reached: the message is kept and applied afterwards.
STORE_WAIT = "系统正在恢复,您的消息已收到,恢复后会自动处理,请勿重复发送。"
STORE_WAIT_TOAST = "系统正在恢复,本次操作已记下,恢复后自动处理。"


def too_long(limit: int, got: int) -> str:
    return f"内容太长了({got} 字),请精简到 {limit} 字以内,或分几条发送。"


def proxy_project_chosen(project: str) -> str:
    return f"代为反映:<b>{esc(project)}</b>。请发送问题描述(可附照片)。"


def report_card(
    *,
    text: str,
    project: str | None,
    category: str | None,
    urgent: bool,
    unit: str | None,
    due: str | None,
    proxy_for: str | None = None,
    ask_category: bool = False,
) -> str:
    lines = ["<b>请确认要反映的问题</b>"]
    if proxy_for:
        lines.append(f"代为反映:{esc(proxy_for)}")
    lines.append(f"项目:{esc(project) if project else '(请选择)'}")
    lines.append(f"类别:{esc(category) if category else '(请选择)'}")
    lines.append(f"紧急程度:{'🔴 紧急' if urgent else '一般'}")
    if unit:
        lines.append(f"责任单位:{esc(unit)}")
    if due:
        lines.append(f"办理时限:{due}")
    lines.append(f"内容:{esc(text)}")
    if ask_category:
        lines.append("\n我不太确定问题类别,请在下面选择:")
    else:
        lines.append("\n确认无误请点「提交」。")
    return "\n".join(lines)


def receipt(number: str, unit: str, due: str) -> str:
    return (
        f"✅ 已提交,诉求编号 <b>{esc(number)}</b>。\n"
        f"责任单位:{esc(unit)}\n办理时限:{due}\n"
        "办理进展会第一时间通知您;也可以发送 /mine 查看。"
    )


def duplicate_offer(number: str, text: str) -> str:
    return (
        f"这条问题和近期未办结的诉求 <b>#{esc(number)}</b> 很相似:\n「{esc(text[:120])}」\n"
        f"是否与 #{esc(number)} 为同一问题?"
    )


def linked_to(number: str) -> str:
    return f"已合并到诉求 <b>#{esc(number)}</b>,补充内容已转给责任单位。"


def supplement_note(number: str, text: str) -> str:
    return f"📎 诉求 <b>#{esc(number)}</b> 有补充说明:\n{esc(text)}"


# --- official side ----------------------------------------------------------------------------


def ticket_card(
    *,
    number: str,
    project: str,
    category: str,
    urgent: bool,
    status: str,
    unit: str,
    reporter: str,
    text: str,
    created: str,
    due: str,
    accepted_by: str | None = None,
    returned_reason: str | None = None,
    reopen_count: int = 0,
    extension: str | None = None,
    result: str | None = None,
    footer: str | None = None,
) -> str:
    head = "🔴 <b>紧急诉求</b>" if urgent else "<b>诉求</b>"
    lines = [
        f"{head} #{esc(number)} · {esc(status_name(status))}",
        f"项目:{esc(project)}",
        f"类别:{esc(category)}",
        f"反映人:{esc(reporter)} · {created}",
        f"责任单位:{esc(unit)}",
        f"办理时限:{due}",
    ]
    if accepted_by:
        lines.append(f"受理人:{esc(accepted_by)}")
    if reopen_count:
        lines.append(f"重办次数:{reopen_count}")
    if returned_reason:
        lines.append(f"退回原因:{esc(returned_reason)}")
    if extension:
        lines.append(f"延期申请:{esc(extension)}")
    lines.append(f"内容:{esc(text)}")
    if result:
        lines.append(f"办理结果:{esc(result)}")
    if footer:
        lines.append(footer)
    return "\n".join(lines)


def handled_elsewhere(unit: str) -> str:
    return f"<i>已转由 {esc(unit)} 办理。</i>"


def accepted_by_other(name: str) -> str:
    return f"<i>已由 {esc(name)} 受理。</i>"


def accepted_notice(number: str, unit: str, who: str) -> str:
    return f"📥 您的诉求 <b>#{esc(number)}</b> 已由 {esc(unit)} {esc(who)} 受理,正在办理。"


CHOOSE_TRANSFER_UNIT = "请选择转办到哪个单位:"
ASK_RETURN_REASON = "请发送退回原因(例如:不属于本单位职责),发送 /cancel 放弃。"
ASK_RESULT = "请发送办理结果(可附照片说明),发送 /cancel 放弃。"
ASK_EXTENSION = (
    "请发送延期原因和新的办理时限,日期写成 2026-12-20 这样,例如:\n"
    "「需等待设计院出图,申请延期至 2026-12-20」。发送 /cancel 放弃。"
)
ASK_UNSATISFIED_REASON = "很抱歉没有让您满意。请简单说明不满意的原因,我们会安排重新办理。"
EXTENSION_NEEDS_DATE = "没有找到新的日期。请按 2026-12-20 这样的格式写明新的办理时限。"
EXTENSION_NEEDS_REASON = "请写明延期原因。"


def transferred_notice(number: str, unit: str) -> str:
    return f"↪ 诉求 #{esc(number)} 已转办至 {esc(unit)}。"


def transfer_history_note(from_unit: str, to_unit: str) -> str:
    """The /ticket history note of a 转办: which unit handed it to which."""
    return f"{from_unit} → {to_unit}"


def returned_done(number: str) -> str:
    return f"↩ 诉求 #{esc(number)} 已退回重点项目办重新分派。"


def resolved_done(number: str) -> str:
    return f"✅ 诉求 #{esc(number)} 已办结,等待企业评价。"


def extension_requested_done(number: str) -> str:
    return f"⏳ 诉求 #{esc(number)} 的延期申请已提交重点项目办审批。"


def extension_request_card(number: str, unit: str, who: str, until: str, reason: str) -> str:
    return (
        f"⏳ <b>延期申请</b> #{esc(number)}\n申请单位:{esc(unit)} {esc(who)}\n"
        f"申请延至:{until}\n原因:{esc(reason)}"
    )


def extension_decided(number: str, approved: bool, until: str) -> str:
    if approved:
        return f"✅ 诉求 #{esc(number)} 的延期申请已批准,新的办理时限:{until}。"
    return f"✖ 诉求 #{esc(number)} 的延期申请未获批准,请按原时限办理。"


def result_for_rating(number: str, unit: str, result: str) -> str:
    return (
        f"📣 您的诉求 <b>#{esc(number)}</b> 已由 {esc(unit)} 办结。\n办理结果:{esc(result)}\n\n"
        "请对办理结果进行评价:"
    )


def rated_thanks(number: str, rating: str) -> str:
    return f"感谢您的评价({esc(rating_name(rating))}),诉求 #{esc(number)} 已销号。"


def reopened_done(number: str) -> str:
    return f"已收到,诉求 #{esc(number)} 已安排重新办理,我们会跟踪到底。"


def reopened_to_unit(number: str, reason: str) -> str:
    return f"⚠️ 诉求 <b>#{esc(number)}</b> 企业评价「不满意」,需重新办理。\n原因:{esc(reason)}"


def reopened_to_leader(number: str, project: str, unit: str, reason: str) -> str:
    return (
        f"⚠️ 您分包的项目 {esc(project)} 的诉求 <b>#{esc(number)}</b> 企业评价「不满意」,"
        f"已由 {esc(unit)} 重办。\n原因:{esc(reason)}"
    )


def new_ticket_for_dispatcher(number: str) -> str:
    return f"诉求 #{esc(number)} 需要重点项目办分派。"


# --- lists ------------------------------------------------------------------------------------

MINE_EMPTY = "您还没有反映过问题。直接发文字给我即可反映。"
TODO_EMPTY = "本单位目前没有待办诉求。👍"
TODO_NOT_OFFICIAL = "只有责任单位的工作人员可以查看待办。"
TICKET_USAGE = "用法:/ticket 编号,例如 /ticket 20261123-001"


def list_header(title: str, total: int, page: int, pages: int) -> str:
    return f"<b>{esc(title)}</b>(共 {total} 件,第 {page}/{pages} 页)"


MINE_TITLE = "我的诉求"
TODO_TITLE = "本单位待办"


def list_line(number: str, status: str, category: str, due: str, text: str, overdue: bool) -> str:
    flag = "⏰" if overdue else "•"
    return (
        f"{flag} <code>{esc(number)}</code> {esc(status_name(status))} · {esc(category)} · "
        f"时限 {due}\n   {esc(text[:40])}"
    )


def history_line(at: str, who: str, action: str, note: str | None) -> str:
    tail = f":{esc(note[:80])}" if note else ""
    return f"  {at} {esc(who)} {esc(action)}{tail}"


HISTORY_TITLE = "<b>处理记录</b>"
SYSTEM_ACTOR = "系统"

# --- command menus ----------------------------------------------------------------------------

COMMANDS_ENTERPRISE = [
    ("mine", "我的诉求"),
    ("progress", "报送项目进度"),
    ("project", "项目状态(四色、计划与完成)"),
    ("photos", "现场照片(形象进度)"),
    ("ticket", "查看诉求详情"),
    ("cancel", "放弃正在填写的内容"),
    ("help", "帮助"),
]
COMMANDS_OFFICIAL = [
    ("todo", "本单位待办"),
    ("overdue", "超期诉求"),
    ("ticket", "查看诉求详情"),
    ("project", "项目状态"),
    ("stats", "办理统计"),
    ("cancel", "放弃正在填写的内容"),
    ("help", "帮助"),
]
COMMANDS_ADMIN = [
    ("todo", "全部待办"),
    ("overdue", "超期诉求"),
    ("report", "代企业反映问题"),
    ("ticket", "查看诉求详情"),
    ("project", "项目状态"),
    ("stats", "办理统计"),
    ("export", "导出问题台账"),
    ("dashboard", "大屏登录链接"),
    ("cancel", "放弃正在填写的内容"),
    ("help", "帮助"),
]
