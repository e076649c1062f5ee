"""How a diary becomes a video: the job pipeline.

A job moves through persisted states (`dreamreel.states`, docs/architecture.md):

    received -> planned -> approved -> rendering -> stitching -> done
                       \\-> in_review | blocked   (waits for a moderator)
    any -> failed (error kept; running the job again re-enters where it failed)

`DreamPipeline.run(job_id)` looks at the job's state and runs the step `steps` names for it until
the job rests (done, failed, rejected, in_review, blocked); every state change goes through
`dreamreel.states.transition`. Every step is idempotent and keyed by job id and
segment index: a clip whose row and file exist is never rendered twice, so a job killed
mid-render resumes where it stopped.

    plan     the agent splits the diary into scenes, classifies emotions, screens content, picks styles
    moderate the verdict decides: allow -> approved; review -> in_review; block -> blocked
    render   each scene's words narrated first (a scene lasts at least as long as they do), then
             one clip per scene through the video backend, each written atomically
    stitch   the clips become one video, then narration, a music bed and soft subtitles go on it
             (.srt/.vtt beside it; `dreamreel.sound`), checked by probing the result
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from agent.canonical import canonical
from agent.interfaces import EmotionClassifier, Planner
from agent.planner import plan_leaving_out
from agent.schemas import DreamPlan, EmotionResult, SafetyVerdict
from agent.style import choose_style
from dreamreel import moderation, sound
from dreamreel.continuity import keyframe_prompt, shared_description, start_frame_name
from dreamreel.events import EventBus, publishing
from dreamreel.lease import JobLease
from dreamreel.payloads import InfoData, ProgressData, QualityData, StateData
from dreamreel.quality_gate import (
    Attempt,
    attempt_path,
    forget_attempt_files,
    keep_best,
    quality_message,
    retry_note,
)
from dreamreel.render import RenderParams, batches, clip_spec, throttled
from dreamreel.settings import Settings
from dreamreel.states import JobState, transition
from generation.audio.base import Speech, SpeechSynth
from generation.audio.music import MusicLibrary
from generation.audio.score import hold_last_frame
from generation.base import ClipInfo, ClipSpec, VideoBackend
from generation.frames import save_last_frame
from generation.quality import QualityGate
from generation.stitch import timeline_spans
from storage import repos
from storage.db import Database
from storage.media import MediaStore, job_dir
from storage.models import Clip, ClipAttempt, Job, SegmentRow, Video, utcnow

log = logging.getLogger(__name__)

Stitcher = Callable[..., Any]  # generation.stitch.stitch_clips


@dataclass
class Components:
    """The parts a pipeline is built from; chosen by settings in `dreamreel.wiring`."""

    planner: Planner
    emotion: EmotionClassifier
    safety: Any  # agent.safety.policy.SafetyPolicy: check(text, plan) -> SafetyVerdict
    backend: VideoBackend
    stitch: Stitcher
    overall_emotion: Callable[[list[EmotionResult], list[float]], EmotionResult]
    soften_prompt: Callable[[str, Collection[str]], str]  # (prompt, verdict categories) -> renderable
    narrator: SpeechSynth  # speaks each scene's words (espeak-ng by default)
    quality: QualityGate  # judges every clip; renders weak ones again (docs/quality.md)
    simplify_prompt: Callable[[str], str]  # the prompt of a second retry: fewer subjects, less action
    music: MusicLibrary | None = None  # the operator's tracks by emotion; None: a generated tone


class StepFailed(RuntimeError):
    """A step could not finish; the job is marked failed with this message."""


@dataclass(frozen=True)
class Understanding:
    """What the agent makes of a diary before anything is rendered."""

    plan: DreamPlan
    emotions: list[EmotionResult]  # one per scene
    overall: EmotionResult  # scene scores weighted by scene length, plus the whole text's (understand_diary)
    verdict: SafetyVerdict


def understand_diary(
    planner: Planner,
    emotion: EmotionClassifier,
    safety: Any,
    overall_emotion: Callable[[list[EmotionResult], list[float]], EmotionResult],
    text: str,
    *,
    segments: int,
    language: str | None = None,
) -> Understanding:
    """Plan the scenes, classify each scene's emotion and the whole, screen the content.

    The plan step of every job and `dreamreel analyze` (hence `make eval`) both call this, so the
    measured judgement is the service's judgement.
    """
    plan: DreamPlan = planner.plan(text, segments=segments, language=language)  # type: ignore[arg-type]
    verdict: SafetyVerdict = safety.check(text, plan)
    if verdict.withheld:
        # allowed without a sexual or gory moment: the scenes are planned again from the rest only,
        # so nothing rendered, prompted or captioned reads the sentences left out. The rest is checked
        # again as it now reads: cutting a sentence out can change it (a right-to-left override
        # closed inside the cut sentence then runs on over reversed text an evader hid after it);
        # unless it is a plain allow, the whole diary is refused as it would have been.
        kept = plan_leaving_out(planner, text, verdict.withheld, segments=segments, language=plan.language)
        again = safety.check(" ".join(seg.text for seg in kept.segments), kept, withhold=False)
        if again.decision == "allow" and not again.support_message:
            plan = kept
        else:  # the whole diary's decision, from the scores its reasons already carry
            decision, support = safety.decide({r.category: r.score for r in verdict.reasons})
            verdict = verdict.model_copy(update={"decision": decision, "support_message": support, "withheld": []})
    # Classifiers read the canonical text (disguises undone), as the rules and prompts do.
    scenes = [canonical(seg.text) for seg in plan.segments]
    weights = [float(len(seg.text)) for seg in plan.segments]
    # With several scenes the whole diary is read too and weighs as much as its scenes together:
    # a feeling spread over two sentences is lost when each half is read alone (on held-out
    # GoEmotions training rows, split in two scenes by the planner, the scene mean alone scored
    # macro-F1 0.532, whole text + scene mean 0.573, the text read whole 0.566).
    rendered = " ".join(seg.text for seg in plan.segments) if verdict.withheld else text
    whole = [canonical(rendered)] if len(scenes) > 1 else []
    results = emotion.classify(scenes + whole)
    emotions = results[: len(scenes)]
    overall = overall_emotion(results, weights + [sum(weights)] * len(whole))
    return Understanding(plan=plan, emotions=emotions, overall=overall, verdict=verdict)


@dataclass
class SceneStarts:
    """What the scenes of one job start from (see dreamreel.continuity); `frames` grows as they render."""

    mode: str  # none | chain | keyframe
    photo: str | None  # the dreamer's photo, relative to the media store
    style_seed: int  # keyframe: the seed of every key frame
    description: str  # keyframe: what every key frame shares
    frames: dict[int, str]  # scene index -> its saved start frame
    scenes: int

    def ends_here(self, index: int) -> bool:
        """Whether scene `index`'s last frame must be kept: chain, a next scene without a start."""
        return self.mode == "chain" and index + 1 < self.scenes and index + 1 not in self.frames

    def source(self, index: int) -> str:
        if self.mode == "keyframe":
            return "key frame"
        return "dreamer's photo" if index == 0 else f"scene {index}'s last frame"


# The safety verdict decides where a planned job goes.
VERDICT_STATE = {"allow": JobState.APPROVED, "review": JobState.IN_REVIEW, "block": JobState.BLOCKED}


class DreamPipeline:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        media: MediaStore,
        components: Components | Callable[[], Components],
        bus: EventBus,
        render_params: RenderParams,
    ) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self._components_or_factory = components
        self.bus = bus
        self.render_params = render_params
        self.lease = JobLease(db)
        # The step that runs from each working state; a step ends by moving the job on.
        self.steps: dict[JobState, Callable[[int], None]] = {
            JobState.RECEIVED: self.step_plan,
            JobState.PLANNED: self.step_moderate,
            JobState.APPROVED: self.step_render,
            JobState.RENDERING: self.step_render,  # resumes: finished clips are kept
            JobState.STITCHING: self.step_stitch,
        }

    @property
    def components(self) -> Components:
        """Planner, classifiers, policy, backend, stitcher: built on first use (a process that
        only submits never loads models)."""
        if not isinstance(self._components_or_factory, Components):
            self._components_or_factory = self._components_or_factory()
        return self._components_or_factory

    # -- driver -------------------------------------------------------------------------------

    def run(self, job_id: int, *, until: str | None = None) -> JobState:
        """Run the job's next steps until it rests (or reaches `until`); return its state.

        The job is leased to this pipeline while it runs, so two processes never run it at once;
        a second caller gets JobBusy.
        """
        self.lease.claim(job_id)
        try:
            state = self._begin(job_id)
            while state in self.steps and state != until:
                step = self.steps[state]
                try:
                    step(job_id)
                except Exception as exc:
                    log.exception("job %s: step %s failed", job_id, step.__name__)
                    self._fail(job_id, exc)
                    return JobState.FAILED
                state = self._state(job_id)
            return state
        finally:
            self.lease.release(job_id)

    def _begin(self, job_id: int) -> JobState:
        """Count the attempt; a failed job re-enters the state it failed in."""
        with self._job(job_id) as (s, job):
            job.attempts += 1
            job.started_at = job.started_at or utcnow()
            if job.state == JobState.FAILED:
                resume = JobState(job.failed_in or JobState.RECEIVED)
                transition(s, job, resume, f"retrying from {resume}")
                job.error = None
            return JobState(job.state)

    def _state(self, job_id: int) -> JobState:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise StepFailed(f"job {job_id} does not exist")
            return JobState(job.state)

    @contextmanager
    def _job(self, job_id: int) -> Iterator[tuple[Session, Job]]:
        """The unit of work of a step: a session with the job loaded; on success it commits and
        then publishes the events written in it."""
        with publishing(self.db, self.bus) as s:
            job = repos.load_job(s, job_id)
            if job is None:
                raise StepFailed(f"job {job_id} does not exist")
            yield s, job

    def renderable_prompt(self, prompt: str, categories: Collection[str]) -> str:
        """A scene prompt as it may be rendered, softened for the diary's verdict categories: at
        planning, and again when a moderator approves a refused diary (edited prompts included)."""
        return self.components.soften_prompt(prompt, categories)

    # -- step: plan ---------------------------------------------------------------------------

    def step_plan(self, job_id: int) -> None:
        """Plan scenes, classify emotion per scene and overall, screen content, choose styles."""
        with self._job(job_id) as (_, job):
            text = job.diary.text
            n_segments = int(job.options.get("segments") or self.settings.default_segments)
            language = job.diary.language

        self._progress(job_id, JobState.RECEIVED, 0.1, "planning scenes, reading emotions, checking content")
        parts = self.components
        judged = understand_diary(
            parts.planner, parts.emotion, parts.safety, parts.overall_emotion,
            text, segments=n_segments, language=language,
        )
        plan, emotions, overall, verdict = judged.plan, judged.emotions, judged.overall, judged.verdict

        categories = {reason.category for reason in verdict.reasons}
        with self._job(job_id) as (s, job):
            job.segments.clear()  # re-planning replaces an earlier partial plan
            s.flush()
            for seg, emo in zip(plan.segments, emotions, strict=True):
                style = choose_style(emo.label, self.settings.styles)
                lora = parts.backend.lora_for(emo.label)
                # softened even when blocked: a moderator may override, and then this is rendered
                prompt = self.renderable_prompt(seg.prompt, categories)
                job.segments.append(
                    SegmentRow(
                        index=seg.index,
                        text=seg.text,
                        span_start=seg.span.start,
                        span_end=seg.span.end,
                        prompt=prompt,
                        keywords=list(seg.keywords),
                        emotion=emo.label,
                        emotion_scores=dict(emo.scores),
                        style=style.name,
                        lora_name=lora[0] if lora else None,
                        lora_weight=lora[1] if lora else None,
                        preset=self.render_params.preset,
                        seed=secrets.randbelow(2**31 - 1),
                    )
                )
            job.language = plan.language
            job.planner = plan.planner
            job.emotion = overall.label
            job.emotion_scores = dict(overall.scores)
            job.verdict = verdict.decision
            job.verdict_reasons = [r.model_dump(mode="json") for r in verdict.reasons]
            job.withheld = [w.model_dump(mode="json") for w in verdict.withheld]
            left_out = f", {len(verdict.withheld)} sentence(s) left out of the video" if verdict.withheld else ""
            transition(
                s,
                job,
                JobState.PLANNED,
                f"{len(plan.segments)} scenes, emotion {overall.label}, verdict {verdict.decision}{left_out}",
                StateData(
                    planner=plan.planner,
                    support_message=verdict.support_message,
                    withheld=len(verdict.withheld) or None,
                ),
            )

    # -- step: moderate -----------------------------------------------------------------------

    def step_moderate(self, job_id: int) -> None:
        """The verdict decides whether rendering may start or a moderator must look first."""
        with self._job(job_id) as (s, job):
            target = VERDICT_STATE[job.verdict or "allow"]
            if target != JobState.APPROVED:  # the request waits in the moderators' queue with its reasons
                moderation.queue_for_review(s, job)
            messages = {
                JobState.APPROVED: "content allowed",
                JobState.IN_REVIEW: "waiting for a moderator",
                JobState.BLOCKED: "blocked by the content policy; a moderator may override",
            }
            transition(s, job, target, messages[target])

    # -- step: render -------------------------------------------------------------------------

    def step_render(self, job_id: int) -> None:
        """Render every scene that has no clip yet; finished clips are kept, never redone."""
        with self._job(job_id) as (s, job):
            if job.state != JobState.RENDERING:
                transition(s, job, JobState.RENDERING, "rendering scenes")
            segments = [(seg.index, seg.text, seg.prompt, seg.emotion, seg.style, seg.seed) for seg in job.segments]
            done = {c.segment_index for c in job.clips if self.media.exists(c.path)}
            stale = [c for c in job.clips if c.segment_index not in done]
            for clip in stale:  # a row whose file vanished is rendered again
                s.delete(clip)
            pending_scenes = [seg.index for seg in job.segments if seg.index not in done]
            for index in pending_scenes:  # attempts of a render cut short: judged afresh
                repos.forget_attempts(s, job_id, index)
            captions = job.options.get("captions")
            captions = self.settings.video.captions if captions is None else bool(captions)
            language = job.language or "en"
            options = dict(job.options)
            if job.continuity == "keyframe" and job.style_seed is None:
                job.style_seed = secrets.randbelow(2**31 - 1)  # one seed for every key frame of the job
            starts = SceneStarts(
                mode=job.continuity or "none",
                photo=job.diary.photo_path,
                style_seed=job.style_seed or 0,
                description=shared_description([seg.keywords or [] for seg in job.segments]),
                frames={seg.index: seg.start_frame for seg in job.segments if seg.start_frame},
                scenes=len(job.segments),
            )

        backend = self.components.backend
        if problem := backend.continuity_problem(starts.mode):
            raise StepFailed(problem)
        # a render killed mid-write left its temp file behind; only this job writes here
        self.media.sweep_temp(older_than=0, under=job_dir(job_id))
        for index in pending_scenes:
            forget_attempt_files(self.media, job_id, index)
        # narration first: each scene must last at least as long as its spoken words
        words = [sound.SceneWords(index, text) for index, text, *_ in segments]
        spoken = self._narrate(job_id, words, options, language)
        crossfade = self._crossfade(options, starts.mode)
        needs = {i: sound.min_scene_seconds(speech, self.settings, crossfade) for i, speech in spoken.items()}
        total = len(segments)
        pending = []
        for index, text, prompt, emotion, style_name, seed in segments:
            if index in done:
                continue
            style = self.settings.styles.get(style_name or "neutral") or self.settings.styles["neutral"]
            spec = clip_spec(
                self.render_params, index=index, caption=text if captions else "", prompt=prompt,
                emotion=emotion or "neutral", style=style, seed=seed, language=language,
            )
            if self.components.backend.any_length:  # the render itself grows to the narration
                spec = replace(spec, num_frames=max(spec.num_frames, math.ceil(needs.get(index, 0.0) * spec.fps)))
            pending.append(spec)
        # chain: in order, one at a time (a scene starts where the one before ended)
        size = self.components.backend.batch_size()
        groups = batches(pending, size) if starts.mode == "none" else [[spec] for spec in pending]
        for group in groups:
            specs = [self._with_start_frame(job_id, spec, starts) for spec in group]
            self._render_group(job_id, specs, total, needs, starts)

        with self._job(job_id) as (s, job):
            transition(s, job, JobState.STITCHING, f"all {total} scenes rendered")

    def _with_start_frame(self, job_id: int, spec: ClipSpec, starts: SceneStarts) -> ClipSpec:
        """The scene with the frame it starts from (dreamreel.continuity), made and recorded on the
        scene before it renders, so a resumed job or a re-roll starts from the very same frame."""
        rel = starts.frames.get(spec.index)
        if rel is None or not self.media.exists(rel):
            rel = self._make_start_frame(job_id, spec, starts)
            if rel is None:
                return spec
            with publishing(self.db, self.bus) as s:
                segment = repos.segment_for(s, job_id, spec.index)
                if segment is None:
                    raise StepFailed(f"scene {spec.index} of job {job_id} vanished")
                segment.start_frame = rel
                self.bus.add(s, job_id, f"scene {spec.index + 1} starts from its {starts.source(spec.index)}",
                             InfoData(scene=spec.index, start=starts.source(spec.index)), state=JobState.RENDERING)
            starts.frames[spec.index] = rel
        return replace(spec, start_image=self.media.path_for(rel))

    def _make_start_frame(self, job_id: int, spec: ClipSpec, starts: SceneStarts) -> str | None:
        """Draw, copy or cut out scene `spec.index`'s first frame; None: it starts from its prompt."""
        backend = self.components.backend
        target = f"{job_dir(job_id)}/{start_frame_name(spec.index)}"
        photo = self.media.path_for(starts.photo) if starts.photo and self.media.exists(starts.photo) else None
        if starts.mode == "keyframe":
            key = replace(spec, seed=starts.style_seed, prompt=keyframe_prompt(starts.description, spec.prompt))
            with self.media.atomic_path(target) as tmp:
                backend.draw_keyframe(key, tmp, reference=photo)
            return target
        if spec.index == 0 or starts.mode == "none":
            if spec.index > 0 or photo is None or backend.continuity_problem("chain") is not None:
                return None
            self.media.write_bytes(target, photo.read_bytes())  # the dreamer's photo starts the dream
            return target
        # chain: the last frame of the scene before; normally saved with its clip (see _render_group)
        previous = f"{job_dir(job_id)}/clip-{spec.index - 1:03d}.mp4"
        if not self.media.exists(previous):
            raise StepFailed(f"scene {spec.index + 1} starts where scene {spec.index} ends, which is not rendered")
        with self.media.atomic_path(target) as tmp:
            save_last_frame(self.media.path_for(previous), tmp)
        return target

    def _narrate(
        self, job_id: int, words: list[sound.SceneWords], options: dict[str, Any], language: str
    ) -> dict[int, Speech]:
        """The narration of every spoken scene (made once; later runs find the files)."""
        return sound.narrate(
            self.components.narrator, self.media, job_id, sound.spoken_scenes(self.settings, options, words), language
        )

    def _crossfade(self, options: dict[str, Any], continuity: str) -> float:
        crossfade = options.get("crossfade")
        if crossfade is None:  # chained scenes already match at the cut: a hard cut by default
            return 0.0 if continuity == "chain" else self.settings.video.crossfade
        return float(crossfade)

    def _render_group(
        self, job_id: int, specs: list[ClipSpec], total: int, needs: dict[int, float], starts: SceneStarts
    ) -> None:
        """Render one scene, or a batch of scenes, through the quality gate and keep each scene's
        best attempt as its clip (`dreamreel.quality_gate`, docs/quality.md).

        Every render is judged; scenes under a threshold are rendered again (a new seed, from the
        second retry a simpler prompt) until they pass or `max_attempts` renders are spent. A scene
        never fails for quality alone: it keeps its best attempt and the feed says so.
        """
        gate = self.components.quality
        attempts: dict[int, list[Attempt]] = {spec.index: [] for spec in specs}
        todo = list(specs)
        for number in range(1, gate.max_attempts + 1):
            missed = sorted({f for spec in todo for f in (attempts[spec.index][-1].failures if number > 1 else [])})
            self._render_attempt(job_id, todo, number, missed, total, starts, attempts)
            todo = [spec for spec in todo if attempts[spec.index][-1].failures]
            if not todo:
                break
        for spec in specs:
            self._keep_best(job_id, spec, attempts[spec.index], total, needs, starts)

    def _render_attempt(
        self, job_id: int, scenes: list[ClipSpec], number: int, missed: list[str], total: int,
        starts: SceneStarts, attempts: dict[int, list[Attempt]],
    ) -> None:
        """Render attempt `number` of `scenes` in one backend call; judge and record each clip.

        Under chain, each attempt also saves its last frame (as rendered, before post-processing):
        the kept attempt's becomes the next scene's start frame."""
        gate = self.components.quality
        tries = [gate.retry_spec(spec, number, self.components.simplify_prompt) for spec in scenes]
        label = ", ".join(f"{spec.index + 1}" for spec in tries)
        label = f"scene{'s' if len(tries) > 1 else ''} {label} of {total}{retry_note(number, gate, missed)}"
        data = ProgressData(
            scene=tries[0].index, scenes=total, batch=[spec.index for spec in tries],
            attempt=number, max_attempts=gate.max_attempts,
        )  # fmt: skip
        self._progress(job_id, JobState.RENDERING, 0.0, f"rendering {label}", data)
        on_progress = throttled(lambda f: self._progress(job_id, JobState.RENDERING, f, f"rendering {label}", data))
        rels = [attempt_path(job_id, spec.index, number) for spec in tries]
        ends = {spec.index: attempt_path(job_id, spec.index, number, "png") for spec in tries
                if starts.ends_here(spec.index)}  # fmt: skip
        with ExitStack() as stack:  # every file appears only once complete
            tmps = [stack.enter_context(self.media.atomic_path(rel)) for rel in rels]
            with_ends = [
                replace(spec, end_frame=stack.enter_context(self.media.atomic_path(ends[spec.index])))
                if spec.index in ends else spec
                for spec in tries
            ]
            infos = self.components.backend.render_batch(with_ends, tmps, on_progress)
        for scene, spec, rel, info in zip(scenes, tries, rels, infos, strict=True):
            # judged against the scene's own prompt: a simplified retry must still show the scene
            quality, failures = gate.judge(self.media.path_for(rel), scene.prompt)
            attempts[spec.index].append(Attempt(number, spec, rel, info, quality, failures, ends.get(spec.index)))
            with publishing(self.db, self.bus) as s:
                s.add(
                    ClipAttempt(
                        job_id=job_id, segment_index=spec.index, attempt=number, seed=spec.seed,
                        prompt=spec.prompt, steps_factor=spec.steps_factor, quality=quality.as_dict(),
                        failures=failures, kept=False,
                    )
                )  # fmt: skip

    def _keep_best(
        self, job_id: int, spec: ClipSpec, attempts: list[Attempt], total: int, needs: dict[int, float],
        starts: SceneStarts,
    ) -> None:
        """The best attempt's file becomes the scene's clip: its row, its scores, a quality event.

        A clip shorter than its narration needs holds its last frame until the words are said."""
        rel = f"{job_dir(job_id)}/clip-{spec.index:03d}.mp4"
        end = f"{job_dir(job_id)}/{start_frame_name(spec.index + 1)}" if starts.ends_here(spec.index) else None
        best = keep_best(self.media, attempts, self.components.quality, rel, end)
        info = replace(best.info, path=self.media.path_for(rel))
        if info.duration + 1e-3 < needs.get(spec.index, 0.0):
            with self.media.atomic_path(rel) as tmp:
                info = hold_last_frame(info, tmp, needs[spec.index])
        with publishing(self.db, self.bus) as s:
            if end and best.end_frame and (following := repos.segment_for(s, job_id, spec.index + 1)):
                following.start_frame = end
                starts.frames[spec.index + 1] = end
            for row in repos.attempts_for(s, job_id, spec.index):
                row.kept = row.attempt == best.number
            s.add(
                Clip(
                    job_id=job_id,
                    segment_index=spec.index,
                    seed=best.spec.seed,
                    path=rel,
                    frames=info.frames,
                    fps=info.fps,
                    width=info.width,
                    height=info.height,
                    duration=info.duration,
                    quality=best.scores(),
                )
            )
            self.bus.add(
                s, job_id, quality_message(spec.index, total, best, len(attempts)),
                QualityData(
                    scene=spec.index, scenes=total, attempts=len(attempts),
                    rerolls=len(attempts) - 1, kept=best.number, passed=not best.failures,
                    failures=best.failures, quality=best.quality.as_dict(),
                ),
            )  # fmt: skip
            self.bus.add(
                s, job_id, f"scene {spec.index + 1} of {total} rendered",
                ProgressData(scene=spec.index, scenes=total, frames=info.frames),
                state=JobState.RENDERING, progress=1.0,
            )

    # -- step: stitch -------------------------------------------------------------------------

    def step_stitch(self, job_id: int) -> None:
        """Join the clips into one video and check the result by probing it."""
        with self._job(job_id) as (_, job):
            clips = [self.media.path_for(c.path) for c in job.clips]
            rendered = [ClipInfo(path, c.frames, c.fps, c.width, c.height, c.duration)
                        for path, c in zip(clips, job.clips, strict=True)]  # fmt: skip
            expected = len(job.segments)
            options = dict(job.options)
            continuity = job.continuity or "none"
            words = [sound.SceneWords(seg.index, seg.text) for seg in job.segments]
            language = job.language or "en"
            emotion = job.emotion or "neutral"
        crossfade = self._crossfade(options, continuity)
        if len(clips) != expected:
            raise StepFailed(f"{len(clips)} of {expected} clips exist; render them first")
        self._progress(job_id, JobState.STITCHING, 0.0, "stitching scenes")
        spoken = self._narrate(job_id, words, options, language)  # found on disk: made before rendering
        rel = f"{job_dir(job_id)}/dream.mp4"
        with ExitStack() as files:
            tmp, srt, vtt = (files.enter_context(self.media.atomic_path(f"{job_dir(job_id)}/dream.{kind}"))
                             for kind in ("mp4", "srt", "vtt"))  # fmt: skip
            silent = tmp.with_name(f"{tmp.stem}.silent.mp4")  # a temp name as well: swept after a crash
            try:
                # 1. the clips become one (silent) video; 2. narration, music and subtitles go on it
                info = self.components.stitch(clips, silent, crossfade=crossfade)
                self._progress(job_id, JobState.STITCHING, 0.8, "adding narration, music and subtitles")
                music = sound.music_bed(self.components.music, emotion, job_id)
                sound.score(
                    self.settings, info, tmp, scenes=words, spans=timeline_spans(rendered, crossfade),
                    narrations=spoken, music=music, language=language, srt_path=srt, vtt_path=vtt,
                )  # fmt: skip
            finally:
                silent.unlink(missing_ok=True)
        with self._job(job_id) as (s, job):
            if job.video is not None:
                s.delete(job.video)
                s.flush()
            job.video = Video(
                path=rel, frames=info.frames, fps=info.fps, width=info.width, height=info.height,
                duration=info.duration,
            )
            job.finished_at = utcnow()
            transition(
                s, job, JobState.DONE, f"video ready: {info.duration:.1f}s, {info.frames} frames",
                StateData(video=str(self.media.path_for(rel))),
            )

    # -- progress and failure -----------------------------------------------------------------

    def _progress(
        self, job_id: int, state: JobState, fraction: float, message: str, data: ProgressData | None = None
    ) -> None:
        with publishing(self.db, self.bus) as s:
            self.bus.add(s, job_id, message, data or ProgressData(), state=state, progress=fraction)
            self.lease.renew(s, job_id)  # progress is the heartbeat that keeps the lease

    def _fail(self, job_id: int, exc: BaseException) -> None:
        message = str(exc) or exc.__class__.__name__
        with self._job(job_id) as (s, job):
            state = job.state  # where the step got to, so a retry re-enters right there
            job.failed_in = state
            job.error = message
            transition(s, job, JobState.FAILED, f"failed while {state}: {message}", StateData(failed_in=state))

