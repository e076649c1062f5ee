"""The one place that chooses implementations from settings and builds the service.

Heavy adapters (transformers, detoxify, diffusers, langchain) are imported only when the
settings select them, so the bot and API processes stay light.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.interfaces import EmotionClassifier, Planner, ToxicityClassifier
from dreamreel.errors import ConfigError
from dreamreel.events import EventBus
from dreamreel.pipeline import Components, DreamPipeline
from dreamreel.render import RenderParams
from dreamreel.runners.base import JobRunner
from dreamreel.runners.inprocess import InProcessRunner
from dreamreel.service import DreamService
from dreamreel.settings import Settings, load_settings
from dreamreel.voice import VoiceDiaries
from generation.audio.base import SpeechRecognizer, SpeechSynth
from generation.audio.music import MusicLibrary
from generation.base import VideoBackend
from generation.quality import QualityGate
from storage.db import Database
from storage.media import MediaStore
from storage.migrate import ensure_schema

log = logging.getLogger(__name__)


def build_planner(settings: Settings) -> Planner:
    from agent.planner import RulePlanner

    rules = RulePlanner()
    if not settings.llm.base_url:
        return rules
    from agent.llm_planner import LLMPlanner

    llm = settings.llm
    return LLMPlanner(
        base_url=llm.base_url,
        model=llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else "not-needed",
        timeout=llm.timeout,
        max_retries=llm.max_retries,
        structured_output=llm.structured_output,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        fallback=rules,
    )


def build_emotion(settings: Settings) -> EmotionClassifier:
    e = settings.emotion
    if e.backend == "transformers" and e.model:
        from agent.adapters.hf_emotion import TransformersEmotionClassifier

        return TransformersEmotionClassifier(e.model, e.label_map, device=e.device, batch_size=e.batch_size)
    from agent.emotion import OfflineEmotionClassifier

    return OfflineEmotionClassifier.load()


def build_toxicity(settings: Settings) -> ToxicityClassifier | None:
    d = settings.detoxify
    if d.checkpoint is not None:
        from agent.adapters.detoxify_adapter import DetoxifyClassifier

        return DetoxifyClassifier(d.checkpoint, d.config_dir or d.checkpoint.parent, device=d.device)
    from agent.toxicity import OfflineToxicityClassifier

    return OfflineToxicityClassifier.load()


def build_backend(settings: Settings, *, check_weights: bool = True) -> tuple[VideoBackend, RenderParams]:
    """The video backend for the configured preset, and the clip size/length it renders.

    The preset is always validated; `check_weights` also makes sure the model is on this machine
    (a process that hands jobs to Celery workers does not need it)."""
    name = settings.video.preset
    if name == "preview":
        from generation.preview import PreviewRenderer

        p = settings.preview
        return PreviewRenderer(font_path=p.font_path), RenderParams(
            preset="preview", width=p.width, height=p.height, num_frames=p.num_frames, fps=p.fps
        )
    from generation.diffusers_backend import (
        LoraError,
        ModelNotFoundError,
        PresetError,
        backend_from_settings,
    )

    try:
        model, params = backend_from_settings(name, settings.presets, settings.loras)
        if check_weights:
            model.ensure_weights()  # a missing model fails now, naming the command that fetches it
    except (PresetError, LoraError, ModelNotFoundError) as exc:
        raise ConfigError(str(exc)) from exc
    return postprocessed(settings, model), RenderParams(preset=name, **params)


def postprocessed(settings: Settings, model: VideoBackend) -> VideoBackend:
    """A model backend's raw clips made deliverable as `[postprocess]` says (fps, size, caption)."""
    from generation.postprocess import PostProcessSpec
    from generation.postprocessed import PostProcessed

    pp = settings.postprocess
    spec = PostProcessSpec(
        target_fps=pp.target_fps,
        upscale=pp.upscale,
        font_path=settings.preview.font_path,
        caption_position=pp.caption_position,
        interpolation=pp.interpolation,
    )
    return PostProcessed(model, spec, captions=pp.captions_for_model_backends)


def build_safety(settings: Settings) -> Any:
    """The content policy with its signals (rules, meaning heads, profanity filters, toxicity classifier).

    The meaning heads' sentence encoder loads on the first diary checked, not here."""
    from agent.safety.meaning import MeaningDetector
    from agent.safety.policy import SafetyPolicy

    return SafetyPolicy(
        block_threshold=settings.safety.block_threshold,
        review_threshold=settings.safety.review_threshold,
        signal_review_threshold=settings.safety.signal_review_threshold,
        toxicity=build_toxicity(settings),
        meaning=MeaningDetector.load() if settings.safety.meaning else None,
    )


def build_components(settings: Settings, backend: VideoBackend) -> Components:
    """Everything a job needs besides the backend: planner, classifiers, policy, stitcher."""
    from agent.emotion import overall_emotion
    from agent.safety.rewrite import soften_prompt
    from agent.simplify import simplify_prompt
    from generation.stitch import stitch_clips

    return Components(
        planner=build_planner(settings),
        emotion=build_emotion(settings),
        safety=build_safety(settings),
        backend=backend,
        stitch=stitch_clips,
        overall_emotion=overall_emotion,
        soften_prompt=soften_prompt,
        narrator=build_narrator(settings),
        music=build_music_library(settings),
        quality=build_quality_gate(settings),
        simplify_prompt=simplify_prompt,
    )


def build_quality_gate(settings: Settings) -> QualityGate:
    """The gate every clip passes: thresholds, retries, and the CLIP scorer when a model is set."""
    from generation.quality import QualityGate

    q = settings.quality
    clip = None
    if q.clip_model:
        from generation.quality.clip_score import ClipScorer
        from generation.quality.loading import QualityModelMissing

        try:
            clip = ClipScorer(q.clip_model, device=q.device)
        except QualityModelMissing as exc:
            raise ConfigError(str(exc)) from exc
    return QualityGate(
        q.thresholds(),
        max_attempts=q.max_attempts if q.gate else 1,
        retry_steps_factor=q.retry_steps_factor,
        clip=clip,
    )


def build_recognizer(settings: Settings) -> SpeechRecognizer | None:
    """Speech-to-text for voice diaries: Whisper from a local folder, or None when not configured."""
    speech = settings.speech
    if speech.backend == "whisper" and speech.model is not None:
        from generation.audio.whisper import WhisperRecognizer

        return WhisperRecognizer(speech.model, device=speech.device)
    return None


def build_narrator(settings: Settings) -> SpeechSynth:
    """Text-to-speech for narration: espeak-ng (the embedded default) or a VITS/MMS model per language."""
    audio = settings.audio
    if audio.tts_backend == "vits":
        from generation.audio.vits import VitsSynth

        return VitsSynth(audio.vits_models, device=audio.device)
    from generation.audio.speech import EspeakSynth

    return EspeakSynth(audio.espeak_voices, words_per_minute=audio.espeak_words_per_minute)


def build_music_library(settings: Settings) -> MusicLibrary | None:
    """The operator's music folder (manifest checked now, so a broken one fails at start), or None."""
    folder = settings.audio.music_library
    if folder is None:
        return None
    from agent.schemas import EMOTIONS
    from generation.audio.base import AudioError

    try:
        return MusicLibrary.load(folder, known_emotions=EMOTIONS)
    except AudioError as exc:
        raise ConfigError(str(exc)) from exc


def build_runner(settings: Settings, pipeline: DreamPipeline, background: bool) -> JobRunner:
    """In this process (inline for the CLI, a worker thread for the bot and API) or on Celery workers."""
    if settings.runner == "celery":
        from dreamreel.runners.celery_runner import CeleryRunner

        return CeleryRunner.from_settings(settings)
    return InProcessRunner(pipeline.run, background=background)


def build_service(
    settings: Settings | None = None, *, background: bool = False, consumer: str | None = None
) -> DreamService:
    """Build a ready DreamService: schema migrated, media store under DREAMREEL_HOME, runner chosen.

    `consumer` names a long-lived process ("telegram-bot", "api") that follows events durably:
    after a restart it hears of what happened while it was stopped."""
    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    ensure_schema(settings.db_url)
    db = Database(settings.db_url)
    media = MediaStore(settings.media_dir)
    bus = EventBus()
    # validates the preset now; loads no model
    backend, params = build_backend(settings, check_weights=settings.runner == "inprocess")
    # a default continuity the preset cannot render stops every process now, not the first job
    if problem := backend.continuity_problem(settings.video.continuity):
        raise ConfigError(f"video.continuity = {settings.video.continuity!r}: {problem}")
    # models load on the first job, so a process that only submits (bot, API with Celery) stays light
    pipeline = DreamPipeline(settings, db, media, lambda: build_components(settings, backend), bus, params)
    service = DreamService(settings, db, media, pipeline, bus, build_runner(settings, pipeline, background))
    service.voice = VoiceDiaries(service, lambda: build_recognizer(settings))  # the model loads on first use
    service.continuity_problem = backend.continuity_problem  # a job asking for more is refused at submit
    if background or settings.runner == "celery":
        # a long-lived process (bot, API) also hears of jobs other processes move: a Celery worker,
        # the API approving a Telegram diary, `dreamreel moderation approve` on the command line
        service.follow_events_from_database(consumer=consumer)
    return service
