"""One settings object for the whole service.

Values come from, highest priority first: keyword arguments, environment variables with the
prefix `DREAMREEL_` (nested with `__`, e.g. `DREAMREEL_PREVIEW__FPS=12`), the TOML file named by
`DREAMREEL_CONFIG`, then the defaults below. Model presets and the emotion -> style/LoRA table
are data in that file, not code.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.schemas import EMOTIONS, MAX_SEGMENTS, MIN_SEGMENTS, Style

if TYPE_CHECKING:
    from generation.quality.gate import Thresholds

DEFAULT_STYLES: dict[str, Style] = {
    "joy": Style(
        name="joy",
        palette=["#ffb703", "#fb8500", "#ffd6a5"],
        motion="rise",
        prompt_suffix="warm golden light, soft glow, dreamy pastel colors",
        negative_prompt="dark, gloomy",
    ),
    "sadness": Style(
        name="sadness",
        palette=["#1b263b", "#415a77", "#778da9"],
        motion="fall",
        prompt_suffix="muted blue tones, rain, melancholic soft focus",
        negative_prompt="bright, cheerful",
    ),
    "fear": Style(
        name="fear",
        palette=["#0b090a", "#3d0a0a", "#6a040f"],
        motion="shake",
        prompt_suffix="eerie fog, deep shadows, suspenseful cinematic lighting, no gore",
        negative_prompt="gore, blood, mutilation",
    ),
    "anger": Style(
        name="anger",
        palette=["#370617", "#9d0208", "#f48c06"],
        motion="pulse",
        prompt_suffix="harsh red light, storm, dramatic contrast",
        negative_prompt="calm, pastel",
    ),
    "surprise": Style(
        name="surprise",
        palette=["#3a0ca3", "#7209b7", "#4cc9f0"],
        motion="zoom",
        prompt_suffix="surreal vivid colors, sudden burst of light, whimsical",
        negative_prompt="dull",
    ),
    "disgust": Style(
        name="disgust",
        palette=["#283618", "#606c38", "#a3b18a"],
        motion="drift",
        prompt_suffix="sickly green tint, murky atmosphere, no gore",
        negative_prompt="gore, blood",
    ),
    "neutral": Style(
        name="neutral",
        palette=["#22223b", "#4a4e69", "#9a8c98"],
        motion="drift",
        prompt_suffix="dreamlike, soft surreal atmosphere, cinematic",
        negative_prompt="",
    ),
}


# Secrets that documentation and examples use; refused outside development.
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "changeme", "secret", "dev", "test"})


class PreviewSettings(BaseModel):
    """The embedded preview renderer (no model, runs anywhere)."""

    width: int = Field(default=480, ge=64, le=1920)
    height: int = Field(default=270, ge=64, le=1080)
    fps: int = Field(default=12, ge=1, le=60)
    seconds_per_scene: float = Field(default=3.0, gt=0.2, le=30)
    font_path: Path | None = None  # a TTF/OTF with Hangul; found automatically when unset

    @property
    def num_frames(self) -> int:
        return max(2, round(self.fps * self.seconds_per_scene))


class VideoSettings(BaseModel):
    preset: str = "preview"  # "preview" is the embedded renderer; others name [presets.*]
    crossfade: float = Field(default=0.0, ge=0.0, le=2.0)  # seconds between clips (not under chain)
    captions: bool = True
    # none: each scene alone; chain: a scene starts from the last frame of the one before;
    # keyframe: each scene starts from a key frame drawn with one style seed (see docs/video-models.md)
    continuity: Literal["none", "chain", "keyframe"] = "none"


class PostprocessSettings(BaseModel):
    """Post-processing of model clips (generation.postprocess): fps, size, burnt-in captions.

    The preview renderer draws its own captions at its own size and is not post-processed.
    """

    target_fps: int | None = Field(default=None, ge=1, le=120)  # None: keep the model's fps
    upscale: Annotated[float, Field(gt=0, le=8)] | tuple[int, int] | None = None  # factor or (w, h), even
    interpolation: Literal["mci", "blend"] = "mci"  # motion-compensated, or cheap cross-fade
    captions_for_model_backends: bool = True  # burn the scene text into model clips
    caption_position: Literal["bottom", "top"] = "bottom"


class QualitySettings(BaseModel):
    """Clip quality (generation.quality, docs/quality.md): the gate that renders weak clips again,
    the thresholds a clip must meet and the scorers' models.

    Every clip is scored. With `gate` on, a clip under any `min_*` is rendered again (a new seed;
    from the second retry a simplified prompt; `retry_steps_factor` x the denoising steps) up to
    `max_attempts` renders in all, and the best attempt is kept: a job never fails for quality
    alone. `min_clip_score` applies only when `clip_model` names a CLIP checkpoint (a local folder
    or a hub id already in the Hugging Face cache).
    """

    gate: bool = True
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_steps_factor: float = Field(default=1.0, ge=1.0, le=4.0)  # diffusers presets; 1.0 = as the preset
    min_clip_score: float = Field(default=0.3, ge=-1.0, le=1.0)
    min_sharpness: float = Field(default=0.2, ge=0.0, le=1.0)
    min_temporal: float = Field(default=0.5, ge=0.0, le=1.0)
    min_color: float = Field(default=0.2, ge=0.0, le=1.0)
    clip_model: str | None = None  # e.g. openai/clip-vit-base-patch32 or a local folder
    fvd_model: str | None = None  # e.g. MCG-NJU/videomae-base-finetuned-kinetics (features of FVD)
    device: str = "cpu"

    def thresholds(self) -> Thresholds:
        from generation.quality.gate import Thresholds  # numpy: not for processes that only submit

        return Thresholds(
            min_clip_score=self.min_clip_score,
            min_sharpness=self.min_sharpness,
            min_temporal=self.min_temporal,
            min_color=self.min_color,
        )


class AudioSettings(BaseModel):
    """The soundtrack of every video: narration, a music bed, loudness; and its subtitles."""

    narration: bool = True  # each scene's words spoken (a job's `narration` option overrides)
    tts_backend: Literal["espeak", "vits"] = "espeak"  # espeak-ng (Debian package) or transformers VITS/MMS
    espeak_voices: dict[str, str] = Field(default_factory=lambda: {"ko": "ko", "en": "en-us", "mixed": "ko"})
    espeak_words_per_minute: int = Field(default=160, ge=80, le=450)
    vits_models: dict[str, Path] = Field(default_factory=dict)  # language -> local model folder
    device: str = "cpu"
    music_library: Path | None = None  # a folder with manifest.toml; unset: a generated tone per emotion
    music_gain_db: float = Field(default=-10.0, ge=-40.0, le=0.0)
    loudness_lufs: float = Field(default=-16.0, ge=-30.0, le=-10.0)  # EBU R128 integrated target
    scene_padding: float = Field(default=0.4, ge=0.0, le=3.0)  # seconds of quiet after a scene's narration

    @model_validator(mode="after")
    def _vits_has_models(self) -> AudioSettings:
        if self.tts_backend == "vits" and not self.vits_models:
            raise ValueError("audio.tts_backend = 'vits' needs audio.vits_models (e.g. {ko = '/models/mms-tts-kor'})")
        return self


class SpeechSettings(BaseModel):
    """Speech-to-text for voice diaries; without a model, recordings are kept and not transcribed."""

    backend: Literal["none", "whisper"] = "none"
    model: Path | None = None  # a local Whisper folder (save_pretrained), read with transformers
    device: str = "cpu"
    max_seconds: float = Field(default=600.0, gt=0.0, le=3600.0)  # longer recordings are refused
    max_bytes: int = Field(default=20_000_000, ge=1_000)  # what Telegram lets a bot download

    @model_validator(mode="after")
    def _model_named(self) -> SpeechSettings:
        if self.backend == "whisper" and self.model is None:
            raise ValueError("speech.backend = 'whisper' needs speech.model (a local Whisper folder)")
        return self


class SafetySettings(BaseModel):
    """Thresholds of the policy combiner: a signal scoring at or above them counts."""

    block_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # profanity/toxicity classifier signals alone send a diary to review only at this score
    signal_review_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    # meaning-level heads on the sentence encoder (agent.safety.meaning); off: rules and classifiers only
    meaning: bool = True


class LLMSettings(BaseModel):
    base_url: str | None = None  # any OpenAI-compatible endpoint; unset = offline planner
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout: float = 60.0
    max_retries: int = 2
    structured_output: Literal["json_schema", "function_calling", "json_object"] = "json_schema"
    temperature: float = 0.2
    max_tokens: int = 2048


class EmotionSettings(BaseModel):
    """Which emotion classifier runs: the shipped offline one, or a transformers model."""

    backend: Literal["offline", "transformers"] = "offline"
    model: str | None = None  # hub id or local folder of a text-classification model
    label_map: dict[str, str] = Field(default_factory=dict)  # model label -> emotion; empty if labels are emotions
    device: str = "cpu"
    batch_size: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _model_named(self) -> EmotionSettings:
        if self.backend == "transformers" and not self.model:
            raise ValueError("emotion.backend = 'transformers' needs emotion.model (a hub id or a local folder)")
        return self


class DetoxifySettings(BaseModel):
    """A local detoxify checkpoint (e.g. toxic_original-c1212f89.ckpt) and its base model's
    config + tokenizer folder; unset checkpoint = detoxify off."""

    checkpoint: Path | None = None
    config_dir: Path | None = None
    device: str = "cpu"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DREAMREEL_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Path("var")
    database_url: str | None = None  # default: SQLite file under `home`
    log_level: str = "INFO"

    default_segments: int = Field(default=2, ge=MIN_SEGMENTS, le=MAX_SEGMENTS)
    max_diary_chars: int = Field(default=8000, ge=100)
    # a dreamer's photo (dreamreel.images): larger files or more pixels are refused, the diary kept
    max_image_mb: float = Field(default=20.0, gt=0.0, le=200.0)
    max_image_pixels: int = Field(default=40_000_000, ge=10_000)

    preview: PreviewSettings = Field(default_factory=PreviewSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    postprocess: PostprocessSettings = Field(default_factory=PostprocessSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    emotion: EmotionSettings = Field(default_factory=EmotionSettings)
    detoxify: DetoxifySettings = Field(default_factory=DetoxifySettings)
    styles: dict[str, Style] = Field(default_factory=lambda: dict(DEFAULT_STYLES))

    # Free-form tables other parts read and validate themselves (diffusers presets, LoRAs).
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    loras: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)

    runner: Literal["inprocess", "celery"] = "inprocess"
    redis_url: str = "redis://127.0.0.1:6379/0"

    # Web API and moderator page (api/). Lists come comma-separated from the environment.
    environment: Literal["development", "production"] = "development"
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    moderator_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None  # signs callbacks (HMAC-SHA256)
    session_secret: SecretStr | None = None  # signs moderator session cookies; random per process if unset
    link_secret: SecretStr | None = None  # signs expiring download links (dreamreel.links); unset = no links
    api_max_body_bytes: int = Field(default=64_000, ge=1_000)
    # POST /v1/diaries may carry a photo: read up to this much, so an oversized photo is refused
    # with its own message while the diary is still saved (beyond it: 413, nothing read)
    api_max_upload_bytes: int = Field(default=80 * 2**20, ge=1_000)
    api_jobs_per_hour: int = Field(default=100, ge=1)  # per API key, all its users together; else 429
    callback_attempts: int = Field(default=5, ge=1, le=20)
    callback_backoff: float = Field(default=1.0, ge=0.0, le=60.0)  # seconds, doubled per retry
    callback_timeout: float = Field(default=10.0, gt=0.0, le=120.0)
    # callbacks to private/loopback/link-local/reserved addresses (a local receiver); refused unless true
    callback_allow_private: bool = False

    # Telegram bot (bot/). DREAMREEL_MODERATOR_IDS is comma-separated Telegram user ids.
    telegram_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"  # a local Bot API server or a test server
    telegram_webhook_secret: SecretStr | None = None  # X-Telegram-Bot-Api-Secret-Token; random if unset
    telegram_webhook_listen: str = "127.0.0.1:8081"  # host:port the webhook server binds
    telegram_upload_limit_mb: float = Field(default=50.0, gt=0.0)  # larger videos: smaller rendition or link
    public_base_url: str | None = None  # where `GET /v1/jobs/{id}/video` is reachable, for download links
    moderator_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    moderator_chat_id: int | None = None
    bot_max_active_jobs: int = Field(default=2, ge=1)
    bot_jobs_per_hour: int = Field(default=10, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("DREAMREEL_CONFIG")
        if config:
            path = Path(config)
            if not path.is_file():
                raise FileNotFoundError(f"DREAMREEL_CONFIG points at {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("styles")
    @classmethod
    def _every_emotion_has_a_style(cls, styles: dict[str, Style]) -> dict[str, Style]:
        merged = dict(DEFAULT_STYLES)
        merged.update(styles)
        unknown = set(merged) - set(EMOTIONS)
        if unknown:
            raise ValueError(f"styles for unknown emotions: {sorted(unknown)}; known: {list(EMOTIONS)}")
        return merged

    @field_validator("api_keys", "moderator_tokens", "moderator_ids", mode="before")
    @classmethod
    def _split_comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        """Outside development, secrets must be set and must not be the documented placeholders."""
        if self.environment == "development":
            return self
        named: dict[str, list[SecretStr] | list[SecretStr | None]] = {
            "webhook_secret": [self.webhook_secret],
            "session_secret": [self.session_secret],
            "api_keys": self.api_keys,
            "moderator_tokens": self.moderator_tokens,
            # optional (no secret, no download links), but never a placeholder when set
            "link_secret": [self.link_secret] if self.link_secret is not None else [],
        }
        for name, secrets in named.items():
            for secret in secrets:
                value = secret.get_secret_value() if secret is not None else ""
                if value.lower() in PLACEHOLDER_SECRETS or len(value) < 16:
                    raise ValueError(
                        f"DREAMREEL_{name.upper()} is unset, a placeholder or shorter than 16 characters; "
                        "set a real secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
                    )
        return self

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'dreamreel.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.home / "media"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once at an entry point; everything else receives the object."""
    return Settings(**overrides)
