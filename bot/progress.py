"""One status message per job, edited as the job moves, and the hand-off to delivery.

The service publishes every event from its worker thread (`service.subscribe`). The callback
only hands the event to the bot's event loop with `asyncio.run_coroutine_threadsafe`; there
each watched job has its own queue, so its events are applied in order:

    planning -> scene i of N rendering, percent -> stitching -> done (video) | refused | failed

Edits are coalesced and throttled per chat (at most one every `min_interval` seconds): a burst
of progress events becomes one edit showing the latest state. Resting states (done, in_review,
blocked, failed) are settled once per watch: the final edit, then the video, the refusal notice
and moderator card, or the failure message; a rejection decided outside Telegram is told too.

Jobs submitted elsewhere (or resumed after a restart) that belong to a Telegram user are
adopted when they reach a resting state, so their user still hears the outcome (in new messages).
Each outcome sent is recorded as a `delivery` event; a resting state seen again (the bot follows
events from a durable cursor, so after a restart it hears what happened while it was stopped,
and a little it had heard already) is skipped when a delivery follows it: no video is sent twice.

Nothing grows with the life of the process: a watch ends when its job settles, a chat's clock
is dropped once no watch uses it and its interval has passed, and the jobs whose moderator card
was posted are remembered until they finish, and at most `CARDED_LIMIT` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.delivery import Delivery, user_chat
from bot.sender import CHANNEL
from bot.texts import normalize_language, t
from dreamreel.payloads import DeliveryData, ProgressData, StateData
from dreamreel.views import REFUSED_STATES, EventView, JobView

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

SETTLED_STATES = frozenset({"done", "failed"}) | REFUSED_STATES
CARDED_LIMIT = 4096  # jobs remembered as having a moderator card (oldest forgotten first)


@dataclass
class JobWatch:
    """What the bot knows about one job it reports on."""

    job_id: int
    chat_id: int
    lang: str
    status_message_id: int | None
    clips: bool = False  # also send the separate clips with the video
    desired: str | None = None  # the status text the message should show
    shown: str | None = None  # the status text it shows
    settled: bool = False
    queue: asyncio.Queue[EventView] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    flusher: asyncio.Task[None] | None = None


@dataclass
class _ChatClock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_edit: float = 0.0


class RecentIds:
    """A set of ids that keeps only the `limit` most recently added (least recently added go first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._ids: OrderedDict[int, None] = OrderedDict()

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item: int) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def discard(self, item: int) -> None:
        self._ids.pop(item, None)


class ProgressTracker:
    """Keeps each job's status message current and settles jobs that come to rest."""

    def __init__(self, service: DreamService, delivery: Delivery, *, min_interval: float = 1.0) -> None:
        self.service = service
        self.delivery = delivery
        self.min_interval = min_interval
        self.lock = asyncio.Lock()  # held while a job is being submitted and registered
        self._watches: dict[int, JobWatch] = {}
        self._clocks: dict[int, _ChatClock] = {}
        self._carded = RecentIds(CARDED_LIMIT)  # jobs whose moderator card was posted
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the service's events; call from the bot's running event loop."""
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.service.subscribe(self._on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._loop = None
        tasks = [task for w in self._watches.values() for task in (w.worker, w.flusher) if task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _on_event(self, event: EventView) -> None:
        """Called on the service's worker thread: marshal onto the bot's loop, do not wait."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._route(event), loop)

    # -- registration ----------------------------------------------------------------------

    def watch(
        self, job_id: int, chat_id: int, lang: str, status_message_id: int | None, *, clips: bool = False,
        shown: str | None = None,
    ) -> JobWatch:
        """Report on `job_id` in `chat_id` by editing `status_message_id` (hold `self.lock`)."""
        self.unwatch(job_id)  # a new status message replaces an older watch of the job
        w = JobWatch(job_id, chat_id, lang, status_message_id, clips=clips, shown=shown)
        w.worker = asyncio.create_task(self._work(w), name=f"watch-job-{job_id}")
        self._watches[job_id] = w
        return w

    def unwatch(self, job_id: int) -> None:
        """Stop reporting on a job (e.g. the request that would have moved it failed)."""
        w = self._watches.pop(job_id, None)
        if w is not None:
            for task in (w.worker, w.flusher):
                if task is not None:
                    task.cancel()
            self._drop_idle_clocks()

    async def _route(self, event: EventView) -> None:
        try:
            await self._route_locked(event)
        except Exception:  # nobody awaits this coroutine's future: log, never lose it silently
            log.exception("job %s: routing event %s failed", event.job_id, event.id)

    async def _route_locked(self, event: EventView) -> None:
        async with self.lock:
            w = self._watches.get(event.job_id)
            if w is None or w.settled:
                if not settles(event):
                    return
                w = await self._adopt(event.job_id)
                if w is None:
                    return
            w.queue.put_nowait(event)

    async def _adopt(self, job_id: int) -> JobWatch | None:
        """Watch a Telegram user's job the bot did not submit (or did, and settled before)."""
        job = await asyncio.to_thread(self.service.get_job, job_id)
        chat_id = user_chat(job)
        if chat_id is None:
            return None
        old = self._watches.get(job_id)
        if old is not None:
            lang, clips = old.lang, old.clips
        else:
            prefs = await asyncio.to_thread(self.service.user_prefs, CHANNEL, job.user)
            lang = normalize_language(prefs.get("language") or job.language)
            clips = bool(prefs.get("clips"))
        return self.watch(job_id, chat_id, lang, None, clips=clips)

    # -- applying events -------------------------------------------------------------------

    async def _work(self, w: JobWatch) -> None:
        while True:
            event = await w.queue.get()
            try:
                await self._apply(w, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s: reporting event %s failed", w.job_id, event.id)
            if w.settled and w.queue.empty():
                # done with this job; a later resting state (a re-roll, a decision) adopts it anew
                if self._watches.get(w.job_id) is w:
                    del self._watches[w.job_id]
                self._drop_idle_clocks()
                return

    async def _apply(self, w: JobWatch, event: EventView) -> None:
        if settles(event):
            if not w.settled:
                w.settled = True
                job = await asyncio.to_thread(self.service.get_job, w.job_id)
                if job.status != event.state:
                    # the job has moved on (e.g. blocked, then rejected on the web while the bot was
                    # down): the later event, also on its way, tells the user what holds now
                    log.info("job %s: event %s (%s) is stale, job is %s", w.job_id, event.id, event.state, job.status)
                    return
                if await asyncio.to_thread(self.service.outcome_told, w.job_id, event.id, job.status, DeliveryData):
                    log.info("job %s: outcome of event %s was already delivered", w.job_id, event.id)
                    return
                await self.settle(w, job)
                if job.status in SETTLED_STATES or job.status == "rejected":
                    await asyncio.to_thread(
                        self.service.record_event, w.job_id, f"{job.status} sent to chat {w.chat_id}",
                        DeliveryData(chat_id=w.chat_id, state=job.status, event=event.id),
                    )
            return
        text = status_text(w.lang, event)
        if text is not None and not w.settled:
            w.desired = text
            if w.flusher is None or w.flusher.done():
                w.flusher = asyncio.create_task(self._flush(w))

    async def settle(self, w: JobWatch, job: JobView) -> None:
        """The job came to rest: final edit, then video / refusal notice / failure message."""
        log.info("job %s settled as %s for chat %s", job.job_id, job.status, w.chat_id)
        if job.status in ("done", "failed"):
            self._carded.discard(job.job_id)  # finished: a later review of it is a new card
        if job.status == "done":
            w.desired = t(w.lang, "stage_done")
            await self._flush(w)
            await self.delivery.send_video(w.chat_id, job, w.lang, clips=w.clips)
        elif job.status in REFUSED_STATES:
            await self._cancel_flusher(w)
            await self.delivery.notify_refused(w.chat_id, job, w.lang, w.status_message_id)
            if job.job_id not in self._carded:
                self._carded.add(job.job_id)
                await self.delivery.post_review(job.job_id)
        elif job.status == "failed":
            w.desired = t(w.lang, "stage_failed", error=job.error or "?")
            await self._flush(w)
        elif job.status == "rejected":  # decided outside Telegram (the web page, the CLI)
            self._carded.discard(job.job_id)
            await self._cancel_flusher(w)
            await self.delivery.send_text(w.chat_id, t(w.lang, "review_rejected_user", job_id=job.job_id))

    async def _cancel_flusher(self, w: JobWatch) -> None:
        if w.flusher is not None and not w.flusher.done():
            w.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w.flusher

    def _drop_idle_clocks(self) -> None:
        """Forget the clocks of chats no watch reports to whose last edit is over an interval ago."""
        busy = {w.chat_id for w in self._watches.values()}
        now = time.monotonic()
        for chat_id, clock in list(self._clocks.items()):
            if chat_id not in busy and not clock.lock.locked() and now - clock.last_edit >= self.min_interval:
                del self._clocks[chat_id]

    async def _flush(self, w: JobWatch) -> None:
        """Bring the status message to `w.desired`, at most one edit per `min_interval` per chat."""
        clock = self._clocks.setdefault(w.chat_id, _ChatClock())
        while w.desired is not None and w.desired != w.shown:
            async with clock.lock:
                wait = clock.last_edit + self.min_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                text = w.desired
                if text == w.shown:
                    continue
                if w.status_message_id is None:
                    message = await self.delivery.send_text(w.chat_id, text)
                    if message is not None:
                        w.status_message_id = message.message_id
                else:
                    await self.delivery.edit_text(w.chat_id, w.status_message_id, text)
                clock.last_edit = time.monotonic()
                w.shown = text


def settles(event: EventView) -> bool:
    """Whether an event brings its job to a rest the user must hear of: done, failed, refused, or
    rejected by a moderator outside Telegram (a Telegram moderator's decision is told at once)."""
    if event.kind != "state":
        return False
    if event.state == "rejected":
        return not (StateData.of(event).moderator or "").startswith(f"{CHANNEL}:")
    return event.state in SETTLED_STATES


def status_text(lang: str, event: EventView) -> str | None:
    """The status line an event calls for (None: the event does not change what is shown)."""
    state = event.state
    if state in ("received", "planned"):
        return t(lang, "stage_planning")
    if state == "approved":
        return t(lang, "stage_approved")
    if state == "rendering":
        if event.kind != ProgressData.kind:
            return None
        progress = ProgressData.of(event)
        scene, scenes = progress.scene, progress.scenes
        if scene is not None and scenes is not None:
            percent = round(100 * (event.progress or 0.0))
            attempt, attempts = progress.attempt, progress.max_attempts
            if attempt is not None and attempts is not None and attempt > 1:  # the quality gate
                return t(lang, "stage_rerendering", scene=scene + 1, scenes=scenes, percent=percent,
                         attempt=attempt, attempts=attempts)  # fmt: skip
            return t(lang, "stage_rendering", scene=scene + 1, scenes=scenes, percent=percent)
        return None
    if state == "stitching":
        return t(lang, "stage_stitching")
    return None
