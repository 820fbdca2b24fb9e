"""Progress reports over chat, project status (/project) and the site photo library (/photos).

Wiring: `register(desk, data_dir)` (called by bot.app.register_desk_plugins) adds

- a message hook: a message the tagger calls progress (or a photo of an album whose first
  message opened a progress draft) becomes a confirmation card 提交 / 改金额 / 取消 — never a
  ticket;
- the commands /progress (guided form: amount → milestone → photos → 提交), /project, /photos;
- the callback scope ``g`` (draft buttons quote the draft's nonce, so old cards are stale;
  milestone confirmations quote the report id).

A milestone report advances the project's stage only when an official of the lead unit or the
service officer (or an admin) confirms it: they get a card with 确认节点 / 不予确认.

Drafts live in the database (kinds ``progress`` and ``progress_input``), so a restart in the
middle of a report loses nothing.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from domain import progress as dp
from domain.errors import AlreadyDone, Forbidden, InvalidInput
from handlers import outmsg, reporting, texts
from handlers import progress_texts as pt
from handlers.callbacks import encode
from handlers.context import Ctx
from handlers.org import PROJECT_LOADED
from handlers.outmsg import Buttons
from handlers.tagging import TaggerLike
from storage.models import Account, Draft, ProgressReport, Project, ProjectEvent, Ticket
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from handlers.desk import Desk

SCOPE = "g"
DRAFT = "progress"
INPUT = "progress_input"
# Draft kinds of this module (for /cancel).
DRAFT_KINDS = (DRAFT, INPUT)
OPEN_STATUSES = ("submitted", "in_progress")
# Loose photos (no album) join a progress draft touched this recently.
PHOTO_JOIN_WINDOW = timedelta(minutes=30)
# A pending "type the amount" request older than this is forgotten.
INPUT_TTL = timedelta(minutes=30)
# A reply longer than this with no amount in it is a new message, not an answer to "how much?".
AMOUNT_REPLY_MAX_CHARS = 20
PHOTOS_PER_PAGE = 10
PROJECT_PHOTOS = 4


def register(desk: Desk, data_dir: str | Path | None = None) -> None:
    """Plug progress reporting into the desk (see the module docstring)."""
    plugin = ProgressPlugin(desk, Path(data_dir) if data_dir else None)
    desk.message_hooks.append(plugin.on_message)
    desk.extra_commands["progress"] = plugin.cmd_progress
    desk.extra_commands["project"] = plugin.cmd_project
    desk.extra_commands["photos"] = plugin.cmd_photos
    desk.extra_callbacks[SCOPE] = plugin.on_button
    desk.cancel_kinds.extend(DRAFT_KINDS)
    desk.help_extra.append(pt.HELP)


class ProgressPlugin:
    def __init__(self, desk: Desk, data_dir: Path | None) -> None:
        self.desk = desk
        self.data_dir = data_dir

    @property
    def tagger(self) -> TaggerLike:
        return self.desk.tagger

    async def on_message(self, ctx: Ctx, text: str, photos: list[str],
                         media_group_id: str | None) -> bool:
        return await on_message(ctx, self.tagger, text, photos, media_group_id)

    async def cmd_progress(self, ctx: Ctx, args: str) -> None:
        await start_guided(ctx, self.tagger, args)

    async def cmd_project(self, ctx: Ctx, args: str) -> None:
        await show_project_command(ctx, args)

    async def cmd_photos(self, ctx: Ctx, args: str) -> None:
        await show_photos_command(ctx, args)

    async def on_button(self, ctx: Ctx, op: str, target: int, arg: str | None,
                        message_id: int | None) -> str | None:
        return await on_button(ctx, op, target, arg, message_id)


def colour_rules(config: object) -> dp.ColourRules:
    """The thresholds: `config.colour_rules` when the deployment sets one, else the defaults
    with the deployment's first-report grace period (`config.progress_grace_days`)."""
    rules = getattr(config, "colour_rules", None)
    if isinstance(rules, dp.ColourRules):
        return rules
    grace = getattr(config, "progress_grace_days", None)
    if isinstance(grace, int) and grace >= 0:
        return dp.ColourRules(first_report_grace_days=grace)
    return dp.ColourRules()


# --- project state (shared with the sweeps and the CLI) -----------------------------------------


@dataclass(frozen=True)
class ProjectState:
    project: Project
    completed_wan: float
    last_report_at: datetime | None
    open_tickets: int
    urgent_open_since: datetime | None
    verdict: dp.ColourVerdict

    @property
    def colour(self) -> str:
        return self.verdict.colour.value


async def load_states(uow: UnitOfWork, now: datetime, tz: ZoneInfo, rules: dp.ColourRules,
                      projects: Sequence[Project] | None = None) -> list[ProjectState]:
    """Plan against actual and the live colour of each project (all when `projects` is None)."""
    plist = list(projects) if projects is not None else list(await uow.org.projects())
    if not plist:
        return []
    ids = [p.id for p in plist]
    today = now.astimezone(tz).date()
    s = uow.session

    amounts: dict[int, list[dp.AmountReport]] = defaultdict(list)
    q = select(ProgressReport.id, ProgressReport.project_id, ProgressReport.period,
               ProgressReport.amount_wan, ProgressReport.created_at).where(
        ProgressReport.project_id.in_(ids),
        ProgressReport.period.like(f"{today.year:04d}-%"),
        ProgressReport.amount_wan.is_not(None),
    )
    for rid, pid, period, amount, created in (await s.execute(q)).all():
        amounts[pid].append(dp.AmountReport(period, amount, created, rid))

    last: dict[int, datetime] = {}
    q2 = select(ProgressReport.project_id, func.max(ProgressReport.created_at)).where(
        ProgressReport.project_id.in_(ids)).group_by(ProgressReport.project_id)
    for pid, at in (await s.execute(q2)).all():
        if at is not None:
            last[pid] = at

    open_counts: dict[int, int] = {}
    q3 = select(Ticket.project_id, func.count(Ticket.id)).where(
        Ticket.project_id.in_(ids), Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.project_id)
    for pid, n in (await s.execute(q3)).all():
        open_counts[pid] = int(n)

    urgent: dict[int, datetime] = {}
    q4 = select(Ticket.project_id, func.min(Ticket.created_at)).where(
        Ticket.project_id.in_(ids), Ticket.status.in_(OPEN_STATUSES),
        Ticket.urgent.is_(True)).group_by(Ticket.project_id)
    for pid, at in (await s.execute(q4)).all():
        if at is not None:
            urgent[pid] = at

    # When the projects that never reported entered the desk (their first-report grace period).
    entered: dict[int, datetime] = {}
    never = [pid for pid in ids if pid not in last]
    if never:
        q5 = select(ProjectEvent.project_id, func.min(ProjectEvent.created_at)).where(
            ProjectEvent.project_id.in_(never), ProjectEvent.action == PROJECT_LOADED,
        ).group_by(ProjectEvent.project_id)
        for pid, at in (await s.execute(q5)).all():
            if at is not None:
                entered[pid] = at

    out = []
    for p in plist:
        completed = dp.completed_in_year(amounts.get(p.id, []), today.year)
        last_at = last.get(p.id)
        since = urgent.get(p.id)
        facts = dp.ProjectFacts(
            today=today,
            annual_plan_wan=p.annual_plan_wan,
            completed_wan=completed,
            last_report_on=last_at.astimezone(tz).date() if last_at else None,
            planned_start=p.planned_start,
            planned_finish=p.planned_finish,
            urgent_open_days=(now - since).total_seconds() / 86400 if since else None,
            entered_on=entered[p.id].astimezone(tz).date() if p.id in entered else None,
        )
        out.append(ProjectState(p, completed, last_at, open_counts.get(p.id, 0), since,
                                dp.assess_colour(facts, rules)))
    return out


async def state_of(ctx: Ctx, project: Project) -> ProjectState:
    [state] = await load_states(ctx.uow, ctx.now, ctx.config.timezone, colour_rules(ctx.config),
                                [project])
    return state


async def project_events(uow: UnitOfWork, project_id: int,
                         actions: Sequence[str] | None = None) -> Sequence[ProjectEvent]:
    q = select(ProjectEvent).where(ProjectEvent.project_id == project_id)
    if actions is not None:
        q = q.where(ProjectEvent.action.in_(actions))
    return (await uow.session.execute(q.order_by(ProjectEvent.id))).scalars().all()


# --- the message hook ---------------------------------------------------------------------------


async def on_message(ctx: Ctx, tagger: TaggerLike, text: str, photos: list[str],
                     media_group_id: str | None) -> bool:
    """Take the message when it belongs to a progress report; False leaves it to the desk."""
    if ctx.account is None or ctx.actor is None:
        return False
    acc = ctx.account.id
    drafts = ctx.uow.drafts
    pending = await drafts.get(acc, INPUT)
    if pending is not None and ctx.now - pending.updated_at > INPUT_TTL:
        await drafts.drop(acc, INPUT)
        pending = None
    draft = await drafts.get(acc, DRAFT)
    if pending is not None and text:
        if draft is not None and int(draft.data.get("nonce", -1)) == pending.data.get("nonce"):
            if await _on_amount_input(ctx, draft, dict(pending.data), text, photos,
                                      media_group_id):
                return True
            draft = await drafts.get(acc, DRAFT)  # a message of its own: on with the usual
        else:
            await drafts.drop(acc, INPUT)
    if draft is not None and photos:
        same_album = bool(media_group_id) and draft.data.get("media_group_id") == media_group_id
        if same_album or await _takes_loose_photos(ctx, draft, text, media_group_id):
            await _attach_photos(ctx, draft, text, photos, media_group_id)
            return True
    if not dp.progress_project_ids(ctx.actor):
        return False
    if not text and photos and media_group_id:
        return await _stash_album_photos(ctx, photos, media_group_id)
    if not text:
        return False
    if await drafts.get(acc, reporting.PROXY) is not None:
        return False  # /report chose a project for a problem report: leave it to the desk
    tag = tagger.tag(text)
    if tag.intent != "progress":
        return False
    await start_progress(ctx, text, photos, media_group_id, tag.amount_wan, tag.milestone)
    return True


async def _takes_loose_photos(ctx: Ctx, draft: Draft, text: str,
                              media_group_id: str | None) -> bool:
    """Photos outside the draft's album join it while it is fresh and clearly the one in play."""
    assert ctx.account is not None
    if ctx.now - draft.updated_at > PHOTO_JOIN_WINDOW:
        return False
    step = str(draft.data.get("step", "card"))
    if text and step != "photos":
        return False  # a captioned photo is a message of its own
    problem = await ctx.uow.drafts.get(ctx.account.id, reporting.REPORT)
    if problem is not None:
        if media_group_id and problem.data.get("media_group_id") == media_group_id:
            return False
        if problem.updated_at > draft.updated_at:
            return False
    return True


async def _stash_album_photos(ctx: Ctx, photos: list[str], media_group_id: str) -> bool:
    """An album sent before its text: keep every photo (the desk's "photos" stash, which the
    next text — a progress report or a problem — picks up) and answer once per album."""
    assert ctx.account is not None
    drafts = ctx.uow.drafts
    problem = await drafts.get(ctx.account.id, reporting.REPORT)
    if problem is not None and problem.data.get("media_group_id") == media_group_id:
        return False  # the rest of a problem report's album: the desk attaches it
    stash = await drafts.get(ctx.account.id, "photos")
    kept = list(stash.data.get("photos", [])) if stash is not None else []
    first = stash is None or stash.data.get("media_group_id") != media_group_id
    await drafts.put(ctx.account.id, "photos",
                     {"photos": [*kept, *photos], "media_group_id": media_group_id}, ctx.now)
    if first:
        await ctx.reply(outmsg.send(pt.ALBUM_NEEDS_TEXT))
    return True


def _new_nonce() -> int:
    return secrets.randbelow(10**9)


def _today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.config.timezone).date()


async def _take_photo_stash(ctx: Ctx) -> list[str]:
    """Photos the desk kept from a photo sent without text ("photos" draft)."""
    assert ctx.account is not None
    stash = await ctx.uow.drafts.get(ctx.account.id, "photos")
    if stash is None:
        return []
    await ctx.uow.drafts.drop(ctx.account.id, "photos")
    return list(stash.data.get("photos", []))


async def start_progress(ctx: Ctx, text: str, photos: list[str], media_group_id: str | None,
                         amount_wan: float | None, milestone: str | None) -> None:
    """A progress message: a new draft (replacing any older one) and its confirmation card."""
    assert ctx.account is not None and ctx.actor is not None
    projects = dp.progress_project_ids(ctx.actor)
    if not projects:
        raise InvalidInput(pt.NOT_A_PROGRESS_REPORTER)
    code = dp.milestone_code(milestone)
    data: dict[str, Any] = {
        "nonce": _new_nonce(),
        "text": text,
        "amount_wan": amount_wan,
        "milestone": code.value if code else None,
        "project_id": projects[0] if len(projects) == 1 else None,
        "period": dp.reported_period(text, _today(ctx)),
        "photos": [*await _take_photo_stash(ctx), *photos],
        "media_group_id": media_group_id,
        "guided": False,
        "step": "card",
    }
    await ctx.uow.drafts.drop(ctx.account.id, INPUT)
    await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
    await _send_card(ctx, data)


async def start_guided(ctx: Ctx, tagger: TaggerLike, args: str) -> None:
    """/progress: the guided form. With text after the command, that text is the report."""
    assert ctx.account is not None and ctx.actor is not None
    projects = dp.progress_project_ids(ctx.actor)
    if not projects:
        raise InvalidInput(pt.NOT_A_PROGRESS_REPORTER)
    if args.strip():
        tag = tagger.tag(args.strip())
        await start_progress(ctx, args.strip(), [], None, tag.amount_wan, tag.milestone)
        return
    data: dict[str, Any] = {
        "nonce": _new_nonce(),
        "text": "",
        "amount_wan": None,
        "milestone": None,
        "project_id": projects[0] if len(projects) == 1 else None,
        "period": dp.period_of(_today(ctx)),
        "photos": await _take_photo_stash(ctx),
        "media_group_id": None,
        "guided": True,
        "step": "amount" if len(projects) == 1 else "project",
    }
    await ctx.uow.drafts.drop(ctx.account.id, INPUT)
    await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
    if data["project_id"] is None:
        await ctx.reply(outmsg.send(pt.CHOOSE_PROJECT, await _project_buttons(ctx, data)))
        return
    project = await ctx.uow.org.project(int(data["project_id"]))
    await _ask_amount(ctx, data, pt.project_chosen(project.name if project else "") + "\n"
                      + pt.ASK_AMOUNT)


async def _ask_amount(ctx: Ctx, data: dict[str, Any], prompt: str,
                      message_id: int | None = None) -> None:
    assert ctx.account is not None
    await ctx.uow.drafts.put(ctx.account.id, INPUT,
                             {"await": "amount", "nonce": int(data["nonce"]), "tries": 0}, ctx.now)
    buttons: Buttons = [[(texts.BTN_CANCEL, encode(SCOPE, "cxl", int(data["nonce"])))]]
    if message_id is not None:
        await ctx.reply(outmsg.edit(prompt, buttons, message_id=message_id))
    else:
        await ctx.reply(outmsg.send(prompt, buttons))


_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:万|万元|w|W)?\s*$")


def parse_amount(text: str) -> float | None:
    """An amount in 万元: anything the tagger understands (2300万元, 1.2亿, 六千万), or a bare
    number, which is read as 万元 because that is what was asked for."""
    m = _BARE_NUMBER.match(text.replace(",", "").replace(",", ""))
    if m:
        return float(m.group(1))
    parse: Any = None
    try:
        from domain.tagging import parse_amount_wan as parse
    except ImportError:
        try:
            from domain.tagging.amounts import parse_amount_wan as parse
        except ImportError:
            parse = None
    if parse is not None:
        value = parse(text)
        return None if value is None else float(value)
    return None


async def _on_amount_input(ctx: Ctx, draft: Draft, pending: dict[str, Any], text: str,
                           photos: list[str], media_group_id: str | None) -> bool:
    """The reply to "how much?". False when it is clearly not an answer (a long message with
    no amount): the request is dropped and the message goes on as any other would."""
    assert ctx.account is not None
    value = parse_amount(text)
    data = dict(draft.data)
    guided_amount = bool(data.get("guided")) and data.get("step") == "amount"
    if value is None and len(text) > AMOUNT_REPLY_MAX_CHARS:
        await ctx.uow.drafts.drop(ctx.account.id, INPUT)
        if guided_amount:
            await ctx.uow.drafts.drop(ctx.account.id, DRAFT)
        return False
    if photos:
        data["photos"] = [*data.get("photos", []), *photos]
        if media_group_id:
            data["media_group_id"] = media_group_id
        await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
    if value is None:
        tries = int(pending.get("tries", 0)) + 1
        if tries < 2:
            await ctx.uow.drafts.put(ctx.account.id, INPUT, {**pending, "tries": tries}, ctx.now)
            await ctx.reply(outmsg.send(pt.AMOUNT_NOT_UNDERSTOOD))
            return True
        await ctx.uow.drafts.drop(ctx.account.id, INPUT)
        if guided_amount:
            await ctx.uow.drafts.drop(ctx.account.id, DRAFT)
            await ctx.reply(outmsg.send(pt.AMOUNT_GIVE_UP_GUIDED))
            return True
        await ctx.reply(outmsg.send(pt.AMOUNT_GIVE_UP))
        await _send_card(ctx, data)
        return True
    await ctx.uow.drafts.drop(ctx.account.id, INPUT)
    data["amount_wan"] = value
    if guided_amount:
        data["step"] = "milestone"
        await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
        await ctx.reply(outmsg.send(pt.amount_noted(value) + "\n\n" + pt.ASK_MILESTONE,
                                    _milestone_buttons(data)))
        return True
    await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
    await _send_card(ctx, data)
    return True


def _milestone_buttons(data: dict[str, Any]) -> Buttons:
    nonce = int(data["nonce"])
    row = [(dp.MILESTONE_NAMES[m], encode(SCOPE, "ms", nonce, m.value))
           for m in dp.MILESTONE_ORDER]
    return [row[:3], row[3:], [(pt.BTN_NO_MILESTONE, encode(SCOPE, "ms", nonce, "none")),
                               (texts.BTN_CANCEL, encode(SCOPE, "cxl", nonce))]]


async def _project_buttons(ctx: Ctx, data: dict[str, Any]) -> Buttons:
    assert ctx.actor is not None
    nonce = int(data["nonce"])
    rows: Buttons = []
    for p in await ctx.uow.org.projects_by_ids(dp.progress_project_ids(ctx.actor)):
        rows.append([(p.name[:30], encode(SCOPE, "prj", nonce, p.id))])
    rows.append([(texts.BTN_CANCEL, encode(SCOPE, "cxl", nonce))])
    return rows


async def _period_amount(uow: UnitOfWork, project_id: int, period: str) -> float | None:
    """The amount already reported for this project and month (latest report that has one)."""
    q = (select(ProgressReport.amount_wan)
         .where(ProgressReport.project_id == project_id, ProgressReport.period == period,
                ProgressReport.amount_wan.is_not(None))
         .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc()).limit(1))
    value = (await uow.session.execute(q)).scalar_one_or_none()
    return None if value is None else float(value)


async def _card_view(ctx: Ctx, data: dict[str, Any], *, for_receipt: bool = False) -> pt.CardView:
    project = await ctx.uow.org.project(int(data["project_id"])) if data.get("project_id") else None
    amount = data.get("amount_wan")
    previous = None
    if project is not None and not for_receipt:
        previous = await _period_amount(ctx.uow, project.id, str(data["period"]))
    over = (project is not None and amount is not None and project.total_investment_wan is not None
            and float(amount) > project.total_investment_wan)
    return pt.CardView(
        project=project.name if project else None, period=str(data["period"]),
        amount_wan=None if amount is None else float(amount), milestone=data.get("milestone"),
        photos=len(data.get("photos", [])), text=str(data.get("text", "")),
        previous_wan=previous, over_total=over, stage=project.stage if project else None,
        step=str(data.get("step", "card")),
    )


async def render_card(ctx: Ctx, data: dict[str, Any]) -> tuple[str, Buttons]:
    nonce = int(data["nonce"])
    view = await _card_view(ctx, data)
    if view.project is None:
        return pt.CHOOSE_PROJECT + "\n\n" + pt.progress_card(view), await _project_buttons(ctx, data)
    return pt.progress_card(view), [[
        (texts.BTN_SUBMIT, encode(SCOPE, "sub", nonce)),
        (pt.BTN_AMOUNT, encode(SCOPE, "amt", nonce)),
        (texts.BTN_CANCEL, encode(SCOPE, "cxl", nonce)),
    ]]


def _card_ref(account_id: int, nonce: int) -> str:
    return f"pcard:{account_id}:{nonce}"


async def _send_card(ctx: Ctx, data: dict[str, Any]) -> None:
    """A new card message, tagged so that later album photos can update it in place."""
    assert ctx.account is not None
    body, buttons = await render_card(ctx, data)
    if ctx.chat_id is None:
        return
    nonce = int(data["nonce"])
    await ctx.uow.outbox.enqueue(
        idem_key=f"pcard:{ctx.update_id}:{ctx.account.id}:{nonce}", chat_id=ctx.chat_id,
        payload=outmsg.send(body, buttons), now=ctx.now, ref=_card_ref(ctx.account.id, nonce),
        urgent=True)


async def _refresh_card(ctx: Ctx, data: dict[str, Any]) -> bool:
    """Edit the newest card of this draft; False when there is none to edit."""
    assert ctx.account is not None
    rows = [r for r in await ctx.uow.outbox.by_ref(_card_ref(ctx.account.id, int(data["nonce"])))
            if r.payload.get("op") == "send"]
    if not rows:
        return False
    body, buttons = await render_card(ctx, data)
    await ctx.reply(outmsg.edit(body, buttons, edit_of=rows[-1].id))
    return True


async def _attach_photos(ctx: Ctx, draft: Draft, text: str, photos: list[str],
                         media_group_id: str | None) -> None:
    assert ctx.account is not None
    data = dict(draft.data)
    data["photos"] = [*data.get("photos", []), *photos]
    if media_group_id:
        data["media_group_id"] = media_group_id
    if text:
        old = str(data.get("text", ""))
        data["text"] = text if not old else (old if text in old else f"{old}\n{text}")
    await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
    step = str(data.get("step", "card"))
    if step in ("card", "photos") and await _refresh_card(ctx, data):
        return
    if media_group_id and draft.data.get("media_group_id") == media_group_id:
        return  # the rest of an album: the first photo already answered
    await ctx.reply(outmsg.send(pt.photos_received(len(data["photos"]))))


# --- buttons ------------------------------------------------------------------------------------


async def _draft_for(ctx: Ctx, nonce: int) -> Draft:
    assert ctx.account is not None
    draft = await ctx.uow.drafts.current(ctx.account.id, DRAFT, nonce)
    if draft is None:
        raise AlreadyDone(texts.STALE_BUTTON)
    return draft


async def on_button(ctx: Ctx, op: str, target: int, arg: str | None,
                    message_id: int | None) -> str | None:
    """Callback scope ``g``. Returns the toast."""
    assert ctx.account is not None and ctx.actor is not None
    if op in ("mc", "mx"):
        return await on_milestone_decision(ctx, op == "mc", target, message_id)
    if op == "pv":
        project = await _visible_project(ctx, target)
        await show_project(ctx, project)
        return None
    if op == "ph":
        project = await _visible_project(ctx, target)
        period, page = _parse_photo_arg(arg)
        await show_photos(ctx, project, period, page)
        return None
    draft = await _draft_for(ctx, target)
    data = dict(draft.data)
    if op == "cxl":
        await ctx.uow.drafts.drop(ctx.account.id, DRAFT)
        await ctx.uow.drafts.drop(ctx.account.id, INPUT)
        await ctx.reply(outmsg.edit(pt.DRAFT_CANCELLED, message_id=message_id))
        return texts.CANCELLED
    if op == "prj":
        pid = int(arg or 0)
        if pid not in dp.progress_project_ids(ctx.actor):
            raise Forbidden(texts.NOT_YOURS)
        data["project_id"] = pid
        if data.get("guided") and data.get("step") == "project":
            data["step"] = "amount"
            await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
            chosen = await ctx.uow.org.project(pid)
            await _ask_amount(ctx, data, pt.project_chosen(chosen.name if chosen else "")
                              + "\n" + pt.ASK_AMOUNT, message_id)
            return None
        await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
        body, buttons = await render_card(ctx, data)
        await ctx.reply(outmsg.edit(body, buttons, message_id=message_id))
        return None
    if op == "amt":
        await _ask_amount(ctx, data, pt.ASK_AMOUNT_CORRECTION, message_id)
        return None
    if op == "ms":
        if data.get("step") != "milestone":
            raise AlreadyDone(texts.STALE_BUTTON)
        code = None if arg == "none" else dp.milestone_code(arg)
        if arg != "none" and code is None:
            raise InvalidInput(texts.BAD_CALLBACK)
        data["milestone"] = code.value if code else None
        data["step"] = "photos"
        await ctx.uow.drafts.put(ctx.account.id, DRAFT, data, ctx.now)
        chosen_text = pt.amount_noted(data.get("amount_wan")) + "\n" \
            + pt.milestone_chosen(data["milestone"])
        await ctx.reply(outmsg.edit(chosen_text, message_id=message_id))
        await _send_card(ctx, data)
        return None
    if op == "sub":
        return await _submit(ctx, data, message_id)
    raise InvalidInput(texts.BAD_CALLBACK)


async def _submit(ctx: Ctx, data: dict[str, Any], message_id: int | None) -> str:
    assert ctx.account is not None and ctx.actor is not None
    if not data.get("project_id"):
        raise InvalidInput(pt.CHOOSE_PROJECT)
    project = await ctx.uow.org.project(int(data["project_id"]))
    if project is None or not dp.may_report_progress(ctx.actor, project.id):
        raise Forbidden(texts.NOT_YOURS)
    view = await _card_view(ctx, data, for_receipt=True)
    amount = data.get("amount_wan")
    report = ProgressReport(
        project_id=project.id, reporter_id=ctx.account.id, text=str(data.get("text") or ""),
        amount_wan=None if amount is None else float(amount), milestone=data.get("milestone"),
        period=str(data["period"]), photos=list(data.get("photos", [])), created_at=ctx.now,
    )
    if not await ctx.uow.drafts.take(ctx.account.id, DRAFT):
        # Submitted at the same moment through another worker: one report, not two.
        raise AlreadyDone(texts.STALE_BUTTON)
    ctx.uow.progress.add(report)
    await ctx.uow.session.flush()
    await ctx.uow.drafts.drop(ctx.account.id, INPUT)
    await ctx.reply(outmsg.edit(pt.progress_card(view, submitted=True), message_id=message_id))
    state = await state_of(ctx, project)
    pending = report.milestone if dp.advances(project.stage, report.milestone) else None
    await ctx.reply(outmsg.send(pt.receipt(project.name, report.period, report.amount_wan,
                                           state.completed_wan,
                                           state.verdict.progress.completion_rate, pending)))
    if pending:
        await notify_milestone_to_confirm(ctx, project, report)
    return pt.SUBMITTED_TOAST


# --- milestones ---------------------------------------------------------------------------------


def _milestone_ref(report_id: int) -> str:
    return f"mscard:{report_id}"


async def milestone_confirmers(uow: UnitOfWork, project: Project) -> list[Account]:
    people: list[Account] = []
    if project.lead_unit_id is not None:
        people.extend(a for a in await uow.accounts.officials_of(project.lead_unit_id)
                      if "official" in (a.roles or []))
    if project.service_officer_id is not None:
        officer = await uow.accounts.get(project.service_officer_id)
        if officer is not None and officer.active:
            people.append(officer)
    if not people:  # nobody to confirm on site: the admins decide
        people.extend(await uow.accounts.admins())
    seen: set[int] = set()
    out = []
    for p in people:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


async def _milestone_card(ctx: Ctx, project: Project, report: ProgressReport) -> str:
    reporter = await ctx.uow.accounts.get(report.reporter_id)
    return pt.milestone_confirm_card(
        project.name, project.code, reporter.name if reporter else "", ctx.fmt(report.created_at),
        report.milestone or "", project.stage, report.text, len(report.photos or []))


async def notify_milestone_to_confirm(ctx: Ctx, project: Project, report: ProgressReport) -> None:
    body = await _milestone_card(ctx, project, report)
    buttons: Buttons = [[(pt.BTN_CONFIRM_MILESTONE, encode(SCOPE, "mc", report.id)),
                         (pt.BTN_REFUSE_MILESTONE, encode(SCOPE, "mx", report.id))]]
    photos = list(report.photos or [])[:PROJECT_PHOTOS]
    for person in await milestone_confirmers(ctx.uow, project):
        await ctx.push(f"milestone:{report.id}:{person.id}", person,
                       outmsg.send(body, buttons, photos=photos), ref=_milestone_ref(report.id))


async def _decision_of(uow: UnitOfWork, project_id: int, report_id: int) -> ProjectEvent | None:
    for ev in await project_events(uow, project_id, ("stage", "milestone_refused")):
        if int((ev.data or {}).get("report_id", 0)) == report_id:
            return ev
    return None


async def on_milestone_decision(ctx: Ctx, confirmed: bool, report_id: int,
                                message_id: int | None) -> str:
    assert ctx.account is not None and ctx.actor is not None
    # Locked (PostgreSQL) until this decision commits: two people deciding at the same moment
    # on two workers are taken one after the other, and the second finds the first's
    # decision (confirmed and refused both, before).
    report = await ctx.uow.session.get(ProgressReport, report_id, with_for_update=True)
    if report is None or not report.milestone:
        raise InvalidInput(pt.REPORT_NOT_FOUND)
    project = await ctx.uow.org.project(report.project_id)
    if project is None:
        raise InvalidInput(pt.REPORT_NOT_FOUND)
    if not dp.may_confirm_milestone(ctx.actor, project.id, project.lead_unit_id):
        raise Forbidden(pt.MILESTONE_NOT_ALLOWED)
    earlier = await _decision_of(ctx.uow, project.id, report.id)
    if earlier is not None:
        who = await ctx.uow.accounts.get(earlier.actor_id) if earlier.actor_id else None
        raise AlreadyDone(pt.milestone_already(earlier.action == "stage",
                                               who.name if who else texts.SYSTEM_ACTOR))
    card = await _milestone_card(ctx, project, report)
    old_stage = project.stage
    if confirmed:
        if not dp.advances(old_stage, report.milestone):
            raise AlreadyDone(pt.STAGE_ALREADY)
        cond = Project.stage.is_(None) if old_stage is None else Project.stage == old_stage
        res = await ctx.uow.session.execute(
            update(Project).where(Project.id == project.id, cond)
            .values(stage=report.milestone).execution_options(synchronize_session=False))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyDone(texts.DONE_ALREADY)  # someone else moved the stage meanwhile
        await ctx.uow.session.refresh(project)
    event = ProjectEvent(
        project_id=project.id, actor_id=ctx.account.id,
        action="stage" if confirmed else "milestone_refused",
        from_value=old_stage, to_value=report.milestone,
        note=dp.milestone_name(report.milestone), data={"report_id": report.id},
        created_at=ctx.now,
    )
    ctx.uow.session.add(event)
    await ctx.uow.session.flush()
    decided = card + pt.milestone_decided_line(confirmed, ctx.account.name, ctx.fmt(ctx.now))
    await ctx.reply(outmsg.edit(decided, message_id=message_id))
    for row in await ctx.uow.outbox.by_ref(_milestone_ref(report.id)):
        if row.payload.get("op") != "send" or row.chat_id == ctx.chat_id:
            continue
        await ctx.uow.outbox.enqueue(
            idem_key=f"msrefresh:{row.id}:{event.id}", chat_id=row.chat_id,
            payload=outmsg.edit(decided, edit_of=row.id), now=ctx.now, urgent=True)
    reporter = await ctx.uow.accounts.get(report.reporter_id)
    if reporter is not None and reporter.id != ctx.account.id:
        await ctx.push(f"milestone-decided:{report.id}", reporter, outmsg.send(
            pt.milestone_decided_notice(project.name, report.milestone, confirmed,
                                        ctx.account.name)))
    if confirmed:
        return pt.milestone_confirmed_toast(report.milestone)
    return pt.MILESTONE_REFUSED_TOAST


# --- /project -----------------------------------------------------------------------------------


async def visible_projects(ctx: Ctx) -> list[Project]:
    assert ctx.actor is not None
    actor = ctx.actor
    return [p for p in await ctx.uow.org.projects()
            if dp.may_view_project(actor, p.id, p.lead_unit_id)]


async def _visible_project(ctx: Ctx, project_id: int) -> Project:
    assert ctx.actor is not None
    project = await ctx.uow.org.project(project_id)
    if project is None or not dp.may_view_project(ctx.actor, project.id, project.lead_unit_id):
        raise Forbidden(pt.project_not_found(""))
    return project


async def _project_by_code(ctx: Ctx, code: str) -> Project | None:
    assert ctx.actor is not None
    project = await ctx.uow.org.project_by_code(code)
    if project is None and code.upper() != code:
        project = await ctx.uow.org.project_by_code(code.upper())
    if project is None or not dp.may_view_project(ctx.actor, project.id, project.lead_unit_id):
        return None
    return project


async def show_project_command(ctx: Ctx, args: str) -> None:
    code = args.strip().split()[0] if args.strip() else ""
    if not code:
        projects = await visible_projects(ctx)
        if not projects:
            await ctx.reply(outmsg.send(pt.NO_VISIBLE_PROJECTS))
            return
        if len(projects) == 1:
            await show_project(ctx, projects[0])
            return
        rows: Buttons = [[(pt.project_list_line(p.name, p.colour), encode(SCOPE, "pv", p.id))]
                         for p in projects[:30]]
        await ctx.reply(outmsg.send(pt.PROJECT_LIST_TITLE, rows))
        return
    project = await _project_by_code(ctx, code)
    if project is None:
        await ctx.reply(outmsg.send(pt.project_not_found(code)))
        return
    await show_project(ctx, project)


async def _photos_newest_first(uow: UnitOfWork, project_id: int) -> list[tuple[ProgressReport, str]]:
    out: list[tuple[ProgressReport, str]] = []
    for r in reversed(list(await uow.progress.of_project(project_id))):
        out.extend((r, fid) for fid in (r.photos or []))
    return out


async def show_project(ctx: Ctx, project: Project) -> None:
    state = await state_of(ctx, project)
    uow = ctx.uow
    reached_at: dict[str, datetime] = {}
    for ev in await project_events(uow, project.id, ("stage",)):
        if ev.to_value and ev.to_value not in reached_at:
            reached_at[ev.to_value] = ev.created_at
    decided = {int((ev.data or {}).get("report_id", 0))
               for ev in await project_events(uow, project.id, ("stage", "milestone_refused"))}
    reports = list(await uow.progress.of_project(project.id))
    pending = {r.milestone for r in reports
               if r.milestone and r.id not in decided and dp.advances(project.stage, r.milestone)}
    stage_index = dp.milestone_index(project.stage)
    tz = ctx.config.timezone
    planned = {dp.Milestone.STARTED.value: project.planned_start,
               dp.Milestone.COMPLETED.value: project.planned_finish}
    lines = []
    for i, m in enumerate(dp.MILESTONE_ORDER):
        at = reached_at.get(m.value)
        plan = planned.get(m.value)
        lines.append(pt.MilestoneLine(
            code=m.value, reached=i <= stage_index,
            actual=at.astimezone(tz).date().isoformat() if at and i <= stage_index else None,
            planned=plan.isoformat() if plan else None, pending=m.value in pending))
    lead = await uow.org.unit(project.lead_unit_id) if project.lead_unit_id else None
    leader = await uow.accounts.get(project.leader_id) if project.leader_id else None
    officer = await uow.accounts.get(project.service_officer_id) \
        if project.service_officer_id else None
    photos = [fid for _, fid in await _photos_newest_first(uow, project.id)][:PROJECT_PHOTOS]
    verdict = state.verdict
    # The colour of record is the daily one (with the reasons it was given for); before the
    # first sweep, the live one. A different live colour is shown beside it.
    stored = project.colour
    colour = stored or state.colour
    reasons: tuple[str, ...] = verdict.reasons
    live_note: str | None = None
    if stored and stored != state.colour:
        recorded = [ev for ev in await project_events(uow, project.id, ("colour",))
                    if ev.to_value == stored]
        if recorded:
            kept = (recorded[-1].data or {}).get("reasons")
            reasons = tuple(str(r) for r in kept) if isinstance(kept, list) else (
                recorded[-1].note or "",)
        else:
            reasons = ()
        live_note = pt.live_colour(state.colour, verdict.reasons)
    view = pt.ProjectView(
        name=project.name, code=project.code, level=project.level, stage=project.stage,
        colour=colour, live_note=live_note,
        colour_since=ctx.fmt(project.colour_changed_at)[:10] if project.colour_changed_at
        and stored else None,
        reasons=tuple(r for r in reasons if r),
        annual_plan_wan=project.annual_plan_wan, total_investment_wan=project.total_investment_wan,
        completed_wan=state.completed_wan, completion_rate=verdict.progress.completion_rate,
        elapsed_share=verdict.progress.elapsed_share, shortfall_wan=verdict.progress.shortfall_wan,
        last_report=ctx.fmt(state.last_report_at) if state.last_report_at else None,
        open_tickets=state.open_tickets, lead_unit=lead.name if lead else None,
        leader=leader.name if leader else None, officer=officer.name if officer else None,
        milestones=tuple(lines), photos=len(photos),
    )
    buttons: Buttons = []
    if photos:
        latest = next(r for r in reversed(reports) if r.photos)
        buttons.append([(pt.BTN_PHOTOS, encode(SCOPE, "ph", project.id, latest.period))])
    await ctx.reply(outmsg.send(pt.project_view(view), buttons, photos=photos))


# --- /photos ------------------------------------------------------------------------------------


def _parse_photo_arg(arg: str | None) -> tuple[str | None, int]:
    if not arg:
        return None, 0
    period, _, page = arg.partition(".")
    parsed = dp.parse_period(period)
    if parsed is None:
        raise InvalidInput(texts.BAD_CALLBACK)
    return parsed, int(page) if page.isdigit() else 0


async def show_photos_command(ctx: Ctx, args: str) -> None:
    parts = args.split()
    if not parts:
        projects = await visible_projects(ctx)
        if len(projects) == 1:
            await show_photos(ctx, projects[0], None, 0)
            return
        rows: Buttons = [[(pt.project_list_line(p.name, p.colour), encode(SCOPE, "ph", p.id))]
                         for p in projects[:30]]
        await ctx.reply(outmsg.send(pt.PHOTOS_USAGE, rows))
        return
    project = await _project_by_code(ctx, parts[0])
    if project is None:
        await ctx.reply(outmsg.send(pt.project_not_found(parts[0])))
        return
    period = None
    if len(parts) > 1:
        period = dp.parse_period(parts[1])
        if period is None:
            await ctx.reply(outmsg.send(pt.PHOTOS_USAGE))
            return
    await show_photos(ctx, project, period, 0)


async def photos_by_month(uow: UnitOfWork,
                          project_id: int) -> dict[str, list[tuple[ProgressReport, str]]]:
    """The site photo library: period → (report, file id), newest first."""
    out: dict[str, list[tuple[ProgressReport, str]]] = defaultdict(list)
    for report, fid in await _photos_newest_first(uow, project_id):
        out[report.period].append((report, fid))
    return dict(out)


async def show_photos(ctx: Ctx, project: Project, period: str | None, page: int) -> None:
    library = await photos_by_month(ctx.uow, project.id)
    months = sorted(library)
    if period is None:
        period = months[-1] if months else dp.period_of(_today(ctx))
    items = library.get(period, [])
    start = page * PHOTOS_PER_PAGE
    chunk = items[start:start + PHOTOS_PER_PAGE]
    names: dict[int, str] = {}
    lines: list[str] = []
    seen: set[int] = set()
    for report, _ in chunk:
        if report.id in seen:
            continue
        seen.add(report.id)
        if report.reporter_id not in names:
            who = await ctx.uow.accounts.get(report.reporter_id)
            names[report.reporter_id] = who.name if who else ""
        lines.append(pt.photo_line(ctx.fmt(report.created_at)[5:10], names[report.reporter_id],
                                   len(report.photos or []), report.text))
    body = pt.photo_library(project.name, project.code, period, len(items), start + 1,
                            start + len(chunk), lines, months)
    nav: list[tuple[str, str]] = []
    earlier = [m for m in months if m < period]
    later = [m for m in months if m > period]
    if earlier:
        nav.append((pt.BTN_PREV_MONTH, encode(SCOPE, "ph", project.id, earlier[-1])))
    if start + PHOTOS_PER_PAGE < len(items):
        nav.append((pt.BTN_MORE_PHOTOS, encode(SCOPE, "ph", project.id, f"{period}.{page + 1}")))
    if later:
        nav.append((pt.BTN_NEXT_MONTH, encode(SCOPE, "ph", project.id, later[0])))
    await ctx.reply(outmsg.send(body, [nav] if nav else None, photos=[f for _, f in chunk]))


# --- photo files for exports --------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoFile:
    """A site photo and where an export keeps its downloaded copy (under the data directory)."""

    project_code: str
    period: str
    report_id: int
    index: int
    file_id: str

    def relative_path(self) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.project_code)
        return Path("photos") / safe / self.period / f"{self.report_id}-{self.index + 1}.jpg"


async def photo_files(uow: UnitOfWork, project_codes: Sequence[str] | None = None,
                      period: str | None = None) -> list[PhotoFile]:
    """Every site photo (optionally of some projects / one month), oldest first."""
    projects = {p.id: p for p in await uow.org.projects()
                if project_codes is None or p.code in project_codes}
    q = select(ProgressReport).where(ProgressReport.project_id.in_(list(projects)))
    if period is not None:
        q = q.where(ProgressReport.period == period)
    out: list[PhotoFile] = []
    for r in (await uow.session.execute(q.order_by(ProgressReport.created_at,
                                                   ProgressReport.id))).scalars():
        for i, fid in enumerate(r.photos or []):
            out.append(PhotoFile(projects[r.project_id].code, r.period, r.id, i, str(fid)))
    return out
