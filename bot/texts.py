"""User-facing Chinese text of the command line and runtime (one place, for review)."""

from __future__ import annotations

DB_UPGRADED = "数据库已就绪:{url}"
ORG_LOADED = "组织架构已加载:{units} 个单位,{people} 人,{categories} 个类别,{projects} 个项目。"
ORG_INVALID = "组织架构文件有误,未做任何修改:"
TICKETS_NONE = "暂无诉求。"
NO_SUCH_PROJECT = "没有编号为 {code} 的项目。"
NO_SUCH_UNIT = "没有编号为 {code} 的单位。"
INVITE_NEEDS_TARGET = "请用 --project 指定项目,或用 --role official --unit 指定单位。"
INVITE_CREATED = "邀请链接({days} 天内有效,仅可使用一次):"
QR_WRITTEN = "二维码已保存:{path}"
NO_TOKEN = "未设置 ZHITONG_BOT_TOKEN。请设置机器人令牌后再运行 zhitong run(离线演示请用 zhitong demo)。"
RUN_STARTED = "项目直通车已启动({framework},{api}),按 Ctrl-C 停止。"
RUN_STOPPED = "项目直通车已停止。"
DB_ERROR = "无法连接数据库:{error}"
