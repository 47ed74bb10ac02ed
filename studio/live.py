"""Live job cards: a long-poll that answers as soon as a card on the page has something new to show.

The page sends what each unfinished card shows (`Job.live_state`) and a token naming the page.
The server looks every LIVE_CHECK_SECONDS — one or two small queries, the same on SQLite and
PostgreSQL — and answers with the cards that changed, or after LIVE_WAIT_SECONDS with nothing.
A page that adds a card starts a new poll; the one it replaces sees that it is superseded (the
token's latest poll, kept in this process) and ends, freeing its thread. At most
LIVE_MAX_WAITING requests wait at once in a web process, since each holds one of the server's
threads; past that a page is told to ask again in a second instead."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from studio import cards, queue
from studio.models import Job

MAX_WATCHED = 200  # cards one page can watch: a page holds at most a few pages of cards


@dataclass(frozen=True)
class Watch:
    states: dict[int, str]  # job id -> the state its card shows
    page: str = ""  # the page's token: its newest poll supersedes the older ones


@dataclass(frozen=True)
class Update:
    changed: list[Job]  # jobs whose cards must be redrawn, ready for the card template
    busy: bool = False  # too many waiting already: the page should ask again in a second


def parse(values: Iterable[str], page: str = "") -> Watch:
    """The page's `watch` values ("<job id>:<state>") and its token; junk is ignored."""
    states: dict[int, str] = {}
    for value in list(values)[:MAX_WATCHED]:
        pk, _, state = value.partition(":")
        if pk.isascii() and pk.isdigit() and len(pk) < 12:
            states[int(pk)] = state
    return Watch(states, page[:40] if page.isascii() and page.isalnum() else "")


def page_token() -> str:
    return uuid.uuid4().hex


class _Slots:
    """The long-polls waiting in this process right now, and each page's newest one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken = 0
        self.latest: dict[str, object] = {}

    def take(self, limit: int, page: str = "", ticket: object = None) -> bool:
        with self.lock:
            if page:
                self.latest[page] = ticket  # an older poll of this page gives up at its next look
            if self.taken >= limit:
                return False
            self.taken += 1
            return True

    def superseded(self, page: str, ticket: object) -> bool:
        return bool(page) and self.latest.get(page) is not ticket

    def give(self, page: str = "", ticket: object = None) -> None:
        with self.lock:
            self.taken -= 1
            if page and self.latest.get(page) is ticket:
                del self.latest[page]


_slots = _Slots()


def _look(watch: Watch, viewer: AbstractBaseUser) -> list[int]:
    """The watched jobs whose cards show something else now."""
    watched = Q(pk__in=list(watch.states)) if viewer.is_staff else Q(pk__in=list(watch.states), owner=viewer)
    rows = list(Job.objects.filter(watched).only("pk", "owner_id", "status", "progress", "preview", "queued_at"))
    queued = [(job.pk, job.queued_at) for job in rows if job.status == Job.Status.QUEUED]
    for pk, position in queue.positions(queued).items():
        next(job for job in rows if job.pk == pk).queue_position = position
    return [job.pk for job in rows if job.live_state != watch.states[job.pk]]


def _cards(changed: list[int], viewer: AbstractBaseUser) -> list[Job]:
    return cards.card_jobs(Job.objects.filter(pk__in=changed), viewer=viewer) if changed else []


def wait_for_change(*, watch: Watch, viewer: AbstractBaseUser) -> Update:
    ticket = object()
    if not _slots.take(settings.LIVE_MAX_WAITING, watch.page, ticket):
        # No thread to wait in: one look now, and the page asks again in a second.
        return Update(_cards(_look(watch, viewer), viewer), busy=True)
    try:
        deadline = time.monotonic() + settings.LIVE_WAIT_SECONDS
        while True:
            changed = _look(watch, viewer)
            if changed or time.monotonic() >= deadline or _slots.superseded(watch.page, ticket):
                break
            time.sleep(settings.LIVE_CHECK_SECONDS)
    finally:
        _slots.give(watch.page, ticket)
    return Update(_cards(changed, viewer))
