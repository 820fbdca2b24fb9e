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
INVITE_NO_BOT_USERNAME = (
    "未生成邀请链接:不知道机器人的用户名。请设置 ZHITONG_BOT_USERNAME(机器人的用户名,不带 @),"
    "或设置 ZHITONG_BOT_TOKEN 以便向 Bot API 查询(getMe),也可用 --bot-username 指定。"
)
INVITE_GET_ME_FAILED = (
    "未生成邀请链接:向 Bot API 查询机器人用户名(getMe)失败。{error}\n"
    "请设置 ZHITONG_BOT_USERNAME(机器人的用户名,不带 @)后重试,或用 --bot-username 指定。"
)
GET_ME_NO_USERNAME = "Bot API 的回答中没有用户名。"
NO_TOKEN = "未设置 ZHITONG_BOT_TOKEN。请设置机器人令牌后再运行 zhitong run(离线演示请用 zhitong demo)。"
RUN_STARTED = "项目直通车已启动({framework},{api}),按 Ctrl-C 停止。"
NO_WEBHOOK_SECRET = "Webhook 模式需要设置 ZHITONG_WEBHOOK_SECRET(1–256 位字母、数字、_ 或 -)。"
WEBHOOK_SETUP_INVALID = "Webhook 设置有误,未启动。请改正后重试:"
WEBHOOK_SECRET_BAD_CHARS = (
    "  · ZHITONG_WEBHOOK_SECRET 含有 Telegram 不接受的字符 {chars}:只能用字母、数字、_ 和 -"
    "(例如 openssl rand -hex 32 的输出)"
)
WEBHOOK_SECRET_TOO_LONG = "  · ZHITONG_WEBHOOK_SECRET 长 {length} 位,Telegram 最多接受 256 位"
WEBHOOK_URL_INVALID = "  · --webhook「{url}」不是完整的网址,应形如 https://bot.example.gov.cn/telegram/webhook"
WEBHOOK_URL_NOT_HTTPS = (
    "  · --webhook「{url}」须以 https:// 开头:Telegram 只向 HTTPS 地址推送"
    "(自建 Bot API 服务器才可用 http://,见 ZHITONG_TELEGRAM_API)"
)
WEBHOOK_URL_BAD_PORT = "  · --webhook「{url}」的端口 {port}:Telegram 只向 443、80、88、8443 端口推送"
LISTEN_INVALID = (
    "  · --listen「{listen}」应为「地址:端口」,例如 127.0.0.1:8443,IPv6 地址加方括号:"
    "[::1]:8443(端口 1–65535)"
)
LISTEN_IN_USE = (
    "无法在 {listen} 上监听:这个地址和端口已被占用(可能另一个 zhitong run --webhook "
    "或其他程序正在使用)。请换一个 --listen 端口,或先停止占用它的程序。"
)
LISTEN_FAILED = (
    "无法在 {listen} 上监听({error})。请检查 --listen:地址须是本机的,"
    "1024 以下的端口需要管理员权限。"
)
RUN_STOPPED = "项目直通车已停止。"
DB_ERROR = "无法连接数据库:{error}"
DB_NOT_READY = "数据库尚未初始化,请先运行 zhitong db upgrade。"
QUERY_FAILED = "查询失败:{error}"
DB_WAITING = "数据库暂时连不上({error}),{seconds:.0f} 秒后重试……(Ctrl-C 停止)"

# --- settings (bot/settings.py) ------------------------------------------------------------------
SETTINGS_INVALID = (
    "配置有误,未执行。请改正下列设置后重试(环境变量 ZHITONG_*;或 zhitong.toml 中的对应项,"
    "写作 timezone 或 ZHITONG_TIMEZONE 均可):"
)
SETTINGS_TOML_UNREADABLE = "  · {file} 无法读取:{error}"
SETTINGS_TOML_UNKNOWN = (
    "  · {file} 中的「{key}」不是已知的设置项{hint}(已知的项见 README「配置」一节,"
    "写作 timezone 或 ZHITONG_TIMEZONE 均可)"
)
SETTINGS_TOML_DID_YOU_MEAN = ",是否想写 {name}?"
SETTINGS_TOML_TWICE = "  · {file} 中「{first}」和「{second}」是同一项,只能写一次"
SETTING_PROBLEM = "  · {name}=「{value}」:{reason}"
SETTING_BAD_VALUE = "取值无效({detail})"
BAD_TIMEZONE = "应为 IANA 时区名,例如 Asia/Shanghai(北京时间)、Asia/Urumqi"
BAD_CLOCK_TIME = "应为 24 小时制的「时:分」,例如 09:00、08:30(配置时区的当地时间)"
BAD_GRACE_DAYS = "应为不小于 0 的整数天数(0 表示不设首报宽限期)"
BAD_SEND_CONCURRENCY = "应为不小于 1 的整数(同时等待 Telegram 回应的推送条数)"
BAD_FRAMEWORK = "应为 aiogram 或 ptb(python-telegram-bot)"
BAD_PTB_HTTP = "应为 aiohttp 或 httpx(python-telegram-bot 收发 HTTP 所用的库)"

# --- zhitong org load / org show (bot/cli_org.py) ---------------------------------------------
ORG_VALID = "校验通过:{units} 个单位,{people} 人,{categories} 个类别,{projects} 个项目(--dry-run,未写入数据库)。"
ORG_UNCHANGED = "与数据库中的组织架构一致,没有任何修改。"
ORG_CHANGES = "本次修改:{detail}。"
ORG_CHANGE_PART = "{kind}新增 {created}、更新 {updated}"
ORG_KIND_NAMES = {"units": "单位", "categories": "类别", "people": "人员", "projects": "项目"}
ORG_REMOVED = {
    "units": "撤销原重点项目办身份 {n} 个",
    "categories": "删除类别 {n} 个",
    "people": "停用人员 {n} 人(已不在文件中)",
    "projects": "",
}
ORG_CONTACTS_CHANGED = "项目联系人新增 {added}、移除 {removed}"
ORG_TELEGRAM_BOUND = "绑定 Telegram 账号 {n} 个"
ORG_WARNINGS = "提示(不影响加载):"
ORG_DB_NOT_READY = DB_NOT_READY
ORG_LOAD_FAILED = "加载失败,数据库未做任何修改:{error}"
ORG_SHOW_EMPTY = "数据库中还没有组织架构。请先运行 zhitong org load FILE.yaml。"
ORG_SHOW_UNITS = "单位({n}):"
ORG_SHOW_CATEGORIES = "类别({n}):"
ORG_SHOW_PEOPLE = "人员({n}):"
ORG_SHOW_PROJECTS = "项目({n}):"
ORG_SHOW_UNIT_PEOPLE = "{n} 人"
ORG_SHOW_DAYS = "{days} 个工作日"
ORG_SHOW_BOUND = "已绑定"
ORG_SHOW_UNBOUND = "未绑定"
ORG_SHOW_INACTIVE = "已停用"
ORG_SHOW_LEAD = "牵头 {unit}"
ORG_SHOW_LEADER = "分包 {name}"
ORG_SHOW_OFFICER = "首席服务员 {name}"
ORG_SHOW_CONTACTS = "联系人 {names}"
ORG_SHOW_NO_CONTACTS = "联系人待邀请"
ORG_SHOW_ROUTING = "专属分派 {pairs}"
ORG_SHOW_PLAN = "年度计划 {wan} 万元"
UNIT_KIND_NAMES = {"dispatcher": "重点项目办", "department": "部门", "township": "乡镇",
                   "utility": "公用企业", "company": "企业"}
STAGE_NAMES = {"signed": "签约", "started": "开工", "topped_out": "封顶", "completed": "竣工",
               "in_production": "投产"}

# --- statistics, export and dashboard (bot/cli_stats.py) ---
STATS_NAIVE_NOW = "--now 需要带时区的时间,例如 2026-11-24T09:00:00+08:00。"
STATS_BAD_PERIOD = "日期范围有误:--to 不能早于 --from。"
EXPORT_STARTED = "正在导出问题台账到 {path} …"
EXPORT_PROGRESS = "已写入 {rows} 条…"
EXPORT_DONE = "问题台账已导出:{path}(共 {rows} 条,另含分单位汇总表)。"
DASHBOARD_STARTED = "大屏已启动:{url}(按 Ctrl-C 停止)。"
DASHBOARD_NO_TOKEN = (
    "提示:未设置 ZHITONG_DASHBOARD_TOKEN,只能通过一次性登录链接访问"
    "(机器人 /dashboard,或 zhitong dashboard --issue-login)。"
)

# `zhitong webhook`
WEBHOOK_NO_TOKEN = "未设置 ZHITONG_BOT_TOKEN。请先设置机器人令牌(及 ZHITONG_TELEGRAM_API,如使用自建 Bot API)。"
WEBHOOK_BAD_API_URL = "ZHITONG_TELEGRAM_API 不是有效的地址:{api}(应形如 https://api.telegram.org)。"
WEBHOOK_API_UNREACHABLE = "连不上 Bot API({api}):{error}"
WEBHOOK_API_TIMEOUT = "Bot API({api}){seconds} 秒内没有回答,请稍后再试或检查网络与代理。"
WEBHOOK_NOT_BOT_API = (
    "{api} 的回答(HTTP {status})不是 Bot API 的回答,请检查 ZHITONG_TELEGRAM_API 是否指向 Bot API。"
)
WEBHOOK_NOT_FOUND = (
    "Bot API 回答 404:请检查 ZHITONG_BOT_TOKEN 的格式(形如 123456:ABC…)"
    "和 ZHITONG_TELEGRAM_API({api})是否指向 Bot API。"
)
WEBHOOK_API_ERROR = "Bot API 拒绝了请求({status}):{error}"
WEBHOOK_BAD_TOKEN = "Bot API 不认可这个令牌(401):请检查 ZHITONG_BOT_TOKEN。"
WEBHOOK_NONE = "未设置 webhook:机器人按轮询接收更新(zhitong run 不带 --webhook),或尚未启动过。"
WEBHOOK_URL = "Webhook 地址:{url}"
WEBHOOK_PENDING = "Telegram 待推送的更新:{count} 条"
WEBHOOK_MAX_CONNECTIONS = "最大并发连接:{count}"
WEBHOOK_IP = "推送到的 IP:{ip}"
WEBHOOK_ALLOWED = "订阅的更新类型:{types}"
WEBHOOK_ALLOWED_DEFAULT = "Telegram 默认(包括机器人需要的全部类型)"
WEBHOOK_LAST_ERROR = "最近一次推送错误:{when}({ago}){error}"
WEBHOOK_NO_ERROR = "最近没有推送错误。"
WEBHOOK_MISSING_TYPES = (
    "注意:Telegram 不推送 {types} 类更新,机器人需要它们。"
    "重新启动一个 zhitong run --webhook 进程(不带 --no-set-webhook)即可更新订阅。"
)
WEBHOOK_FAILING_HINT = (
    "提示:推送正在出错且有更新在排队。请检查反向代理和各 zhitong run --webhook 进程"
    "(每个进程的 GET /healthz)。Telegram 会把未送达的更新保留 24 小时并自动重推,"
    "在此之内恢复不会丢失。"
)
WEBHOOK_DELETED = "已删除 webhook。Telegram 尚未推送的更新保留(最多 24 小时),下次轮询或设置 webhook 时送达。"
WEBHOOK_DELETED_DROPPED = "已删除 webhook,并丢弃了 Telegram 尚未推送的更新。"


def webhook_error_age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} 秒前"
    if seconds < 3600:
        return f"{seconds // 60:.0f} 分钟前"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} 小时前"
    return f"{seconds // 86400:.0f} 天前"
