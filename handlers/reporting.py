"""An enterprise (or a service officer on its behalf) composing a report: draft → card → ticket.

The draft lives in the database, so a restart in the middle of composing loses nothing. Each
draft carries a nonce that its buttons quote, so buttons of an older card are recognised as stale.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from domain.errors import AlreadyDone, Forbidden, InvalidInput
from domain.permissions import may_report
from handlers import outmsg, texts
from handlers.callbacks import encode
from handlers.context import Ctx
from handlers.deadlines import resolve_due
from handlers.outmsg import Buttons
from handlers.tagging import TaggerLike
from handlers.tickets import check_link_duplicate, check_submit, route
from storage.models import Account, Draft, TagCorrection

REPORT = "report"
PROXY = "proxy"

# Below this the card asks the reporter to choose the category (DESIGN §6).
DEFAULT_LOW_CONFIDENCE = 0.45


def _low_confidence() -> float:
    try:
        from domain.tagging import LOW_CONFIDENCE

        return float(LOW_CONFIDENCE)
    except ImportError:
        return DEFAULT_LOW_CONFIDENCE


async def reportable_projects(ctx: Ctx) -> list[int]:
    actor = ctx.actor
    if actor is None:
        return []
    return sorted(actor.contact_project_ids)


async def start_report(
    ctx: Ctx, tagger: TaggerLike, text: str, photos: list[str], media_group_id: str | None,
    source_message_id: int | None = None,
) -> None:
    """A message from a reporter starts (or, for an album, extends) a draft and shows the card.
    `source_message_id`: the person's message it came from, so an edit of it can follow."""
    assert ctx.account is not None and ctx.actor is not None
    if media_group_id:
        current = await ctx.uow.drafts.get(ctx.account.id, REPORT)
        if current is not None and current.data.get("media_group_id") == media_group_id:
            # Later photos of one album join the draft the first photo started.
            merged = dict(current.data)
            merged["photos"] = [*merged.get("photos", []), *photos]
            if text and not merged.get("text"):
                merged["text"] = text
            await ctx.uow.drafts.put(ctx.account.id, REPORT, merged, ctx.now)
            return
    proxy = await ctx.uow.drafts.get(ctx.account.id, PROXY)
    project_id: int | None = None
    proxy_for: int | None = None
    if proxy is not None:
        project_id = int(proxy.data["project_id"])
        proxy_for = project_id
        await ctx.uow.drafts.drop(ctx.account.id, PROXY)
    else:
        projects = await reportable_projects(ctx)
        if not projects:
            raise InvalidInput(texts.NO_PROJECT if "enterprise" in (ctx.account.roles or [])
                               else texts.NOT_A_REPORTER)
        if len(projects) == 1:
            project_id = projects[0]
    data: dict[str, Any] = {
        "nonce": secrets.randbelow(10**9),
        "photos": photos,
        "media_group_id": media_group_id,
        "project_id": project_id,
        "proxy_for": proxy_for,
        "category_chosen": False,
        "source_message_id": source_message_id,
    }
    await _take_text(ctx, tagger, data, text)
    text_html, buttons = await render_card(ctx, data)
    data["card_key"] = await ctx.reply(outmsg.send(text_html, buttons))
    await ctx.uow.drafts.put(ctx.account.id, REPORT, data, ctx.now)


async def follow_edit(ctx: Ctx, tagger: TaggerLike, message_id: int | None, text: str) -> bool:
    """The person edited the message their open draft came from: the draft takes the new text
    (tagged again; a category they chose stays) and its card is updated in place. False when
    the edit is not of an open draft's message."""
    assert ctx.account is not None
    draft = await ctx.uow.drafts.get(ctx.account.id, REPORT)
    if draft is None or message_id is None or draft.data.get("source_message_id") != message_id:
        return False
    data = dict(draft.data)
    await _take_text(ctx, tagger, data, text)
    body, buttons = await render_card(ctx, data)
    card = await ctx.uow.outbox.by_key(str(data["card_key"])) if data.get("card_key") else None
    if card is not None:
        await ctx.reply(outmsg.edit(body, buttons, edit_of=card.id))
    else:
        data["card_key"] = await ctx.reply(outmsg.send(body, buttons))
    await ctx.uow.drafts.put(ctx.account.id, REPORT, data, ctx.now)
    return True


async def _take_text(ctx: Ctx, tagger: TaggerLike, data: dict[str, Any], text: str) -> None:
    """The draft takes `text` and what the tagger makes of it: category (unless the person
    chose one), urgency, keywords, and the open ticket it may duplicate."""
    tag = tagger.tag(text)
    data.update(text=text, tagged_category=tag.category, urgent=bool(tag.urgent),
                confidence=float(tag.confidence), keywords=list(tag.keywords)[:8])
    if not data.get("category_chosen"):
        data["category"] = tag.category
    if data.get("project_id"):
        data["duplicate_of"] = await _find_duplicate(ctx, tagger, int(data["project_id"]), text)


async def _find_duplicate(ctx: Ctx, tagger: TaggerLike, project_id: int, text: str) -> int | None:
    since = ctx.now - timedelta(days=ctx.config.duplicate_window_days)
    best: tuple[float, int] | None = None
    for t in await ctx.uow.tickets.recent_open_of_project(project_id, since):
        score = tagger.similarity(text, t.text)
        if score >= ctx.config.duplicate_threshold and (best is None or score > best[0]):
            best = (score, t.id)
    return best[1] if best else None


async def render_card(ctx: Ctx, data: dict[str, Any]) -> tuple[str, Buttons]:
    nonce = int(data["nonce"])
    org = ctx.uow.org
    project = await org.project(int(data["project_id"])) if data.get("project_id") else None
    category = await org.category(str(data["category"]))
    if project is None:
        rows: Buttons = []
        for pid in await reportable_projects(ctx):
            p = await org.project(pid)
            if p is not None:
                rows.append([(p.name[:30], encode("d", "prj", nonce, pid))])
        rows.append([(texts.BTN_CANCEL, encode("d", "cxl", nonce))])
        body = texts.report_card(text=data["text"], project=None,
                                 category=category.name if category else None,
                                 urgent=bool(data["urgent"]), unit=None, due=None)
        return texts.CHOOSE_PROJECT + "\n\n" + body, rows
    r = await route(ctx, project, str(data["category"]))
    due = resolve_due(ctx.now, bool(data["urgent"]), r.category.days, ctx.config)
    ask = float(data["confidence"]) < _low_confidence() and not data.get("category_chosen")
    proxy_name = project.name if data.get("proxy_for") else None
    body = texts.report_card(
        text=data["text"], project=project.name, category=None if ask else r.category.name,
        urgent=bool(data["urgent"]), unit=None if ask else r.unit.name,
        due=None if ask else ctx.fmt(due), proxy_for=proxy_name, ask_category=ask,
    )
    if data.get("photos"):
        body += f"\n附件:{len(data['photos'])} 张照片"
    if ask:
        return body, await category_buttons(ctx, nonce)
    rows = []
    dup = data.get("duplicate_of")
    if dup:
        t = await ctx.uow.tickets.get(int(dup))
        if t is not None and t.status in ("submitted", "in_progress"):
            body += "\n\n" + texts.duplicate_offer(t.number, t.text)
            rows.append([(texts.BTN_LINK, encode("d", "lnk", nonce, t.id))])
    rows.append([
        (texts.BTN_SUBMIT, encode("d", "sub", nonce)),
        (texts.BTN_CHANGE_CATEGORY, encode("d", "chg", nonce)),
        (texts.BTN_CANCEL, encode("d", "cxl", nonce)),
    ])
    return body, rows


async def category_buttons(ctx: Ctx, nonce: int) -> Buttons:
    cats = list(await ctx.uow.org.categories())
    rows: Buttons = []
    for i in range(0, len(cats), 3):
        rows.append([(c.name, encode("d", "cat", nonce, c.code)) for c in cats[i:i + 3]])
    rows.append([(texts.BTN_CANCEL, encode("d", "cxl", nonce))])
    return rows


async def _draft_for(ctx: Ctx, nonce: int) -> Draft:
    assert ctx.account is not None
    draft = await ctx.uow.drafts.current(ctx.account.id, REPORT, nonce)
    if draft is None:
        raise AlreadyDone(texts.STALE_BUTTON)
    return draft


async def _take_draft(ctx: Ctx) -> None:
    """Use the report draft up, once: the same button pressed twice at the same moment (two
    workers) files one report; the later press is told it was done already."""
    assert ctx.account is not None
    if not await ctx.uow.drafts.take(ctx.account.id, REPORT):
        raise AlreadyDone(texts.STALE_BUTTON)


async def on_draft_button(ctx: Ctx, op: str, nonce: int, arg: str | None,
                          message_id: int | None) -> str | None:
    """Buttons on the confirmation card. Returns the toast text."""
    assert ctx.account is not None and ctx.actor is not None
    draft = await _draft_for(ctx, nonce)
    data = dict(draft.data)
    if op == "cxl":
        await _take_draft(ctx)
        await ctx.reply(outmsg.edit(texts.DRAFT_CANCELLED, message_id=message_id))
        return texts.CANCELLED
    if op == "chg":
        await ctx.reply(outmsg.edit(texts.CHOOSE_CATEGORY, await category_buttons(ctx, nonce),
                                    message_id=message_id))
        return None
    if op == "cat":
        if arg is None or await ctx.uow.org.category(arg) is None:
            raise InvalidInput(texts.BAD_CALLBACK)
        data["category"] = arg
        data["category_chosen"] = True
    elif op == "prj":
        pid = int(arg or 0)
        if pid not in await reportable_projects(ctx):
            raise Forbidden(texts.NOT_YOURS)
        data["project_id"] = pid
    elif op == "lnk":
        await _take_draft(ctx)
        ticket = await check_link_duplicate(ctx, int(arg or 0), data["text"], data.get("photos"))
        await ctx.reply(outmsg.edit(texts.linked_to(ticket.number), message_id=message_id))
        return texts.linked_to(ticket.number).replace("<b>", "").replace("</b>", "")
    elif op == "sub":
        return await _submit(ctx, data, message_id)
    else:
        raise InvalidInput(texts.BAD_CALLBACK)
    await ctx.uow.drafts.put(ctx.account.id, REPORT, data, ctx.now)
    body, buttons = await render_card(ctx, data)
    await ctx.reply(outmsg.edit(body, buttons, message_id=message_id))
    return None


async def _submit(ctx: Ctx, data: dict[str, Any], message_id: int | None) -> str:
    assert ctx.account is not None
    if not data.get("project_id"):
        raise InvalidInput(texts.CHOOSE_PROJECT)
    project = await ctx.uow.org.project(int(data["project_id"]))
    if project is None or ctx.actor is None or not may_report(ctx.actor, project.id):
        raise Forbidden(texts.NOT_YOURS)
    reporter: Account = ctx.account
    await _take_draft(ctx)
    ticket = await check_submit(
        ctx, project=project, reporter=reporter, text=str(data["text"]),
        category_code=str(data["category"]), urgent=bool(data["urgent"]),
        tags=list(data.get("keywords", [])), attachments=list(data.get("photos", [])),
    )
    if data.get("category") != data.get("tagged_category"):
        ctx.uow.tickets.add_correction(TagCorrection(
            text=str(data["text"]), old_category=str(data["tagged_category"]),
            new_category=str(data["category"]), source="reporter", ticket_id=ticket.id,
            created_at=ctx.now,
        ))
    unit = await ctx.uow.org.unit(ticket.unit_id)
    unit_name = unit.name if unit else ""
    body, _ = await render_card(ctx, data)
    await ctx.reply(outmsg.edit(body.split("\n\n确认无误")[0] + f"\n\n已提交:#{ticket.number}",
                                message_id=message_id))
    await ctx.reply(outmsg.send(texts.receipt(ticket.number, unit_name, ctx.fmt(ticket.due_at))))
    return f"已提交 #{ticket.number}"


async def start_proxy(ctx: Ctx) -> None:
    """/report: a service officer or admin files for an enterprise (代为反映)."""
    assert ctx.actor is not None
    if ctx.actor.is_admin:
        projects = list(await ctx.uow.org.projects())[:30]
    else:
        projects = list(await ctx.uow.org.projects_by_ids(sorted(ctx.actor.officer_project_ids)))
    if not projects:
        raise Forbidden(texts.PROXY_NOT_ALLOWED)
    rows: Buttons = [[(p.name[:30], encode("x", "prj", p.id))] for p in projects]
    await ctx.reply(outmsg.send(texts.CHOOSE_PROJECT_FOR_REPORT, rows))


async def on_proxy_button(ctx: Ctx, project_id: int, message_id: int | None) -> str | None:
    assert ctx.actor is not None and ctx.account is not None
    if not (ctx.actor.is_admin or project_id in ctx.actor.officer_project_ids):
        raise Forbidden(texts.PROXY_NOT_ALLOWED)
    project = await ctx.uow.org.project(project_id)
    if project is None:
        raise InvalidInput(texts.BAD_CALLBACK)
    await ctx.uow.drafts.put(ctx.account.id, PROXY, {"project_id": project_id}, ctx.now)
    await ctx.reply(outmsg.edit(texts.proxy_project_chosen(project.name), message_id=message_id))
    return None
