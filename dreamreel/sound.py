"""How a job gets its sound: which scenes are spoken, their narration files, how long each scene
must last to hold its words, and the soundtrack + subtitles laid over the stitched video.

The pipeline tells the story (render narrates first, stitch scores the result); this module
holds the mechanics, as `dreamreel.render` does for clips.

    narration on?   the job's `narration` option, else settings.audio.narration; scenes listed
                    in the job's `mute_scenes` option are never spoken
    files           jobs/NNNNNN/narration-<scene>-<hash of voice and words>.wav, written once:
                    a re-run or a re-rolled scene reuses them, an edited text gets a new file
    scene length    at least narration + settings.audio.scene_padding (+ the crossfade it shares)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dreamreel.settings import Settings
from generation.audio.base import Speech, SpeechSynth, wav_speech
from generation.audio.music import AmbientTone, MusicLibrary, ambient_tone
from generation.audio.score import SceneSound, score_video
from generation.base import ClipInfo
from generation.probe import StreamInfo
from storage.media import MediaStore, job_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneWords:
    index: int
    text: str


def narration_on(settings: Settings, options: Mapping[str, Any]) -> bool:
    """Whether this job's scenes are spoken: the job's option, else the setting."""
    choice = options.get("narration")
    return settings.audio.narration if choice is None else bool(choice)


def spoken_scenes(settings: Settings, options: Mapping[str, Any], scenes: Sequence[SceneWords]) -> list[SceneWords]:
    """The scenes to narrate: none when narration is off, never the muted ones, never blank ones."""
    if not narration_on(settings, options):
        return []
    muted = {int(i) for i in options.get("mute_scenes") or []}
    return [scene for scene in scenes if scene.index not in muted and scene.text.strip()]


def voice_language(job_language: str, text: str) -> str:
    """The voice for one scene: Korean or English; a mixed diary speaks each scene in its own script."""
    if job_language in ("ko", "en"):
        return job_language
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) else "en"


def narration_path(job_id: int, scene: SceneWords, voice: str, narrator: SpeechSynth) -> str:
    digest = hashlib.sha256(f"{narrator.name}\0{voice}\0{scene.text}".encode()).hexdigest()[:12]
    return f"{job_dir(job_id)}/narration-{scene.index:03d}-{digest}.wav"


def narrate(
    narrator: SpeechSynth, media: MediaStore, job_id: int, scenes: Sequence[SceneWords], language: str
) -> dict[int, Speech]:
    """Each scene's narration, spoken now or found from an earlier run (written atomically)."""
    spoken: dict[int, Speech] = {}
    for scene in scenes:
        voice = voice_language(language, scene.text)
        rel = narration_path(job_id, scene, voice, narrator)
        if media.exists(rel):
            spoken[scene.index] = wav_speech(media.path_for(rel))
            continue
        with media.atomic_path(rel) as tmp:
            speech = narrator.speak(scene.text, voice, tmp)
        spoken[scene.index] = replace(speech, path=media.path_for(rel))  # its duration, now at its final name
        log.info("job %s: scene %d narrated (%.1f s, %s voice)", job_id, scene.index, spoken[scene.index].duration, voice)
    return spoken


def min_scene_seconds(speech: Speech | None, settings: Settings, crossfade: float) -> float:
    """How long a scene's clip must last so its words are heard before the next scene takes over."""
    if speech is None:
        return 0.0
    return speech.duration + settings.audio.scene_padding + crossfade


def music_bed(library: MusicLibrary | None, emotion: str, job_id: int) -> Path | AmbientTone:
    """The job's music: a library track tagged with its emotion, else the emotion's ambient tone."""
    if library is not None and (track := library.pick(emotion, key=job_id)) is not None:
        return track
    return ambient_tone(emotion)


def score(
    settings: Settings,
    silent: ClipInfo,
    out_path: Path,
    *,
    scenes: Sequence[SceneWords],
    spans: Sequence[tuple[float, float]],
    narrations: Mapping[int, Speech],
    music: Path | AmbientTone,
    language: str,
    srt_path: Path,
    vtt_path: Path,
) -> list[StreamInfo]:
    """The stitched `silent` video with its soundtrack and subtitle track, plus the .srt/.vtt."""
    sounds = [
        SceneSound(scene.text, span, narrations[scene.index].path if scene.index in narrations else None)
        for scene, span in zip(scenes, spans, strict=True)
    ]
    return score_video(
        silent.path, out_path, sounds, music=music, language=language, srt_path=srt_path, vtt_path=vtt_path,
        music_gain_db=settings.audio.music_gain_db, loudness_lufs=settings.audio.loudness_lufs, video=silent,
    )  # fmt: skip
