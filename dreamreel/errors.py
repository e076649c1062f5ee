"""DreamReel's exception tree. Errors are translated only at the edges
(CLI exit code, HTTP status, bot reply).

DreamReelError
 ├── InputError            the diary or an option is not acceptable (CLI exit 2, HTTP 422)
 │    ├── EmptyDiary
 │    ├── DiaryTooLong
 │    ├── NotText           binary junk, undecodable bytes
 │    ├── ControlCharacters NUL and the like in a user id, note or prompt
 │    ├── UnsupportedScript neither Korean nor English
 │    ├── BadRecording      a voice diary we cannot transcribe (not audio, too long, silent, codec)
 │    └── BadImage          a dreamer's photo that cannot be used (the diary is still saved)
 │         ├── NotAnImage, ImageTooLarge (bytes), ImageTooManyPixels, AnimatedImage
 ├── NotFound              no such job / review (HTTP 404)
 ├── InvalidTransition     e.g. approving a job that is not waiting for a moderator (HTTP 409)
 │    └── JobBusy           another process is running the job right now
 ├── LimitExceeded         per-user limits (HTTP 429, bot reply)
 ├── SpeechUnavailable     a voice diary arrived and no speech-to-text model is configured (HTTP 503)
 └── ConfigError           settings that cannot work (bad preset, missing model weights); fails at start-up
"""

from __future__ import annotations

import unicodedata


class DreamReelError(Exception):
    """Base class. `user_message(lang)` gives a message fit to show a user."""

    messages: dict[str, str] = {}

    def user_message(self, language: str | None = None) -> str:
        lang = "ko" if language == "ko" else "en"
        template = self.messages.get(lang) or self.messages.get("en")
        return template.format(detail=str(self)) if template else str(self)


class InputError(DreamReelError):
    messages = {"en": "{detail}", "ko": "입력을 처리할 수 없습니다: {detail}"}


class EmptyDiary(InputError):
    messages = {
        "en": "The diary is empty. Write down what you dreamt and send it again.",
        "ko": "꿈 일기가 비어 있어요. 꾼 꿈을 적어서 다시 보내 주세요.",
    }


class DiaryTooLong(InputError):
    messages = {
        "en": "The diary is too long ({detail}). Please shorten it and send it again.",
        "ko": "꿈 일기가 너무 길어요 ({detail}). 조금 줄여서 다시 보내 주세요.",
    }


class NotText(InputError):
    messages = {
        "en": "This does not look like text ({detail}). Please send the dream as plain text.",
        "ko": "텍스트가 아닌 것 같아요 ({detail}). 꿈 내용을 글로 보내 주세요.",
    }


class UnsupportedScript(InputError):
    messages = {
        "en": "DreamReel reads Korean and English for now ({detail}).",
        "ko": "지금은 한국어와 영어만 읽을 수 있어요 ({detail}).",
    }


class BadRecording(InputError):
    """A recording that cannot become a diary; it is kept (`recording_id`), and `reason` says why."""

    reasons: dict[str, dict[str, str]] = {
        "not_audio": {
            "en": "That file is not a recording I can play. It is saved; please send a voice message or type the dream.",
            "ko": "재생할 수 있는 녹음 파일이 아니에요. 파일은 저장했어요. 음성 메시지로 보내거나 글로 적어 주세요.",
        },
        "too_long": {
            "en": "That recording is too long ({detail}). It is saved; please send a shorter one (up to {limit}).",
            "ko": "녹음이 너무 길어요 ({detail}). 녹음은 저장했어요. {limit} 이하로 보내 주세요.",
        },
        "too_large": {
            "en": "That file is too large to fetch ({detail}). Please send a shorter recording.",
            "ko": "파일이 너무 커서 받을 수 없어요 ({detail}). 더 짧게 녹음해서 보내 주세요.",
        },
        "silent": {
            "en": "I could not hear anything in that recording. It is saved; please record again, a little closer.",
            "ko": "녹음에서 아무 소리도 들리지 않아요. 녹음은 저장했어요. 조금 더 가까이에서 다시 녹음해 주세요.",
        },
        "unsupported_codec": {
            "en": "I cannot decode that audio format ({detail}). It is saved; please send a voice message, "
            "or an mp3, m4a, ogg or wav file.",
            "ko": "이 오디오 형식은 읽을 수 없어요 ({detail}). 파일은 저장했어요. 음성 메시지나 mp3, m4a, ogg, wav "
            "파일로 보내 주세요.",
        },
        "no_speech": {
            "en": "I heard sound but no words I could write down. It is saved; please try again or type the dream.",
            "ko": "소리는 들리지만 글로 옮길 말을 찾지 못했어요. 녹음은 저장했어요. 다시 보내거나 글로 적어 주세요.",
        },
    }

    def __init__(self, reason: str, detail: str, *, recording_id: int | None = None, limit: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.recording_id = recording_id
        self.limit = limit

    def user_message(self, language: str | None = None) -> str:
        texts = self.reasons.get(self.reason) or self.reasons["not_audio"]
        return texts["ko" if language == "ko" else "en"].format(detail=str(self), limit=self.limit)


class SpeechUnavailable(DreamReelError):
    """A voice diary arrived but no speech-to-text model is configured; the recording is kept."""

    messages = {
        "en": "Voice diaries need a speech model, and this DreamReel has none set up. Your recording is saved; "
        "please type the dream as text for now.",
        "ko": "음성 일기를 읽으려면 음성 인식 모델이 필요한데, 아직 설정되어 있지 않아요. 녹음은 저장했어요. "
        "지금은 꿈을 글로 적어 보내 주세요.",
    }

    def __init__(self, detail: str, *, recording_id: int | None = None) -> None:
        super().__init__(detail)
        self.recording_id = recording_id


class BadImage(InputError):
    """A photo sent with a diary cannot be used; the message says why and what works."""

    diary_id: int | None = None  # the diary, saved anyway when the photo came with it

    messages = {
        "en": "The photo cannot be used ({detail}). Send one still JPEG, PNG or WebP picture.",
        "ko": "사진을 사용할 수 없어요 ({detail}). JPEG, PNG, WebP 정지 사진 한 장을 보내 주세요.",
    }


class NotAnImage(BadImage):
    messages = {
        "en": "That file is not a picture ({detail}). Send a JPEG, PNG or WebP photo.",
        "ko": "보내 주신 파일은 사진이 아니에요 ({detail}). JPEG, PNG, WebP 사진을 보내 주세요.",
    }


class ImageTooLarge(BadImage):
    messages = {
        "en": "The photo is too large ({detail}). Send a smaller one.",
        "ko": "사진 파일이 너무 커요 ({detail}). 더 작은 사진을 보내 주세요.",
    }


class ImageTooManyPixels(BadImage):
    messages = {
        "en": "The photo has too many pixels ({detail}). Send a smaller picture.",
        "ko": "사진의 해상도가 너무 높아요 ({detail}). 더 작은 사진을 보내 주세요.",
    }


class AnimatedImage(BadImage):
    messages = {
        "en": "Moving pictures cannot be used ({detail}). Send one still photo.",
        "ko": "움직이는 이미지는 사용할 수 없어요 ({detail}). 정지된 사진 한 장을 보내 주세요.",
    }


class NotFound(DreamReelError):
    messages = {"en": "Not found: {detail}", "ko": "찾을 수 없어요: {detail}"}


class InvalidTransition(DreamReelError):
    messages = {"en": "Not possible now: {detail}", "ko": "지금은 할 수 없어요: {detail}"}


class LimitExceeded(DreamReelError):
    """`kind` says which limit: "active" (jobs being made at once) or "hourly" (jobs started in
    the last hour); `count` is what the user has, `limit` what is allowed."""

    messages = {
        "en": "Too many dreams at once ({detail}). Please wait a little.",
        "ko": "요청이 너무 많아요 ({detail}). 잠시 후에 다시 보내 주세요.",
    }

    def __init__(self, kind: str, count: int, limit: int) -> None:
        what = "being made at once" if kind == "active" else "in the last hour"
        super().__init__(f"{count} jobs {what}, at most {limit}")
        self.kind, self.count, self.limit = kind, count, limit


class ConfigError(DreamReelError):
    messages = {"en": "Configuration problem: {detail}", "ko": "설정 문제: {detail}"}


class JobBusy(InvalidTransition):
    messages = {
        "en": "This dream is being made right now ({detail}).",
        "ko": "이 꿈은 지금 만들고 있어요 ({detail}).",
    }


class ControlCharacters(InputError):
    """NUL and other control characters in a stored field (a user id, a note, a prompt)."""

    messages = {
        "en": "The {detail} contains control characters (such as NUL). Remove them and send it again.",
        "ko": "{detail}에 제어 문자(NUL 등)가 들어 있어요. 지우고 다시 보내 주세요.",
    }


def refuse_control_characters(value: str | None, what: str, *, lines: bool = False) -> None:
    """Raise `ControlCharacters` when `value` holds a control character (Unicode category Cc);
    with `lines`, tab, newline and carriage return are allowed (multi-line text)."""
    allowed = "\t\n\r" if lines else ""
    if value and any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ControlCharacters(what)
