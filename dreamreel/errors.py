"""DreamReel's exception tree. Errors are translated only at the edges
(CLI exit code, HTTP status, bot reply).

DreamReelError
 ├── InputError            the diary or an option is not acceptable (CLI exit 2, HTTP 422)
 │    ├── EmptyDiary
 │    ├── DiaryTooLong
 │    ├── NotText           binary junk, undecodable bytes
 │    └── UnsupportedScript neither Korean nor English
 ├── NotFound              no such job / review (HTTP 404)
 ├── InvalidTransition     e.g. approving a job that is not waiting for a moderator (HTTP 409)
 │    └── JobBusy           another process is running the job right now
 ├── LimitExceeded         per-user limits (HTTP 429, bot reply)
 ├── ConfigError           settings that cannot work (bad preset, missing model weights); fails at start-up
 └── JobFailed             a step failed; the job is in state `failed` with the error kept
"""

from __future__ import annotations


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


class NotFound(DreamReelError):
    messages = {"en": "Not found: {detail}", "ko": "찾을 수 없어요: {detail}"}


class InvalidTransition(DreamReelError):
    messages = {"en": "Not possible now: {detail}", "ko": "지금은 할 수 없어요: {detail}"}


class LimitExceeded(DreamReelError):
    messages = {
        "en": "Too many dreams at once ({detail}). Please wait a little.",
        "ko": "요청이 너무 많아요 ({detail}). 잠시 후에 다시 보내 주세요.",
    }


class JobFailed(DreamReelError):
    messages = {
        "en": "Making the video failed: {detail}. Your diary is saved; you can retry.",
        "ko": "영상을 만들지 못했어요: {detail}. 꿈 일기는 저장되어 있으니 다시 시도할 수 있어요.",
    }


class ConfigError(DreamReelError):
    messages = {"en": "Configuration problem: {detail}", "ko": "설정 문제: {detail}"}


class JobBusy(InvalidTransition):
    messages = {
        "en": "This dream is being made right now ({detail}).",
        "ko": "이 꿈은 지금 만들고 있어요 ({detail}).",
    }
