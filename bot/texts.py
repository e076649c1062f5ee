"""Every string the bot shows a person, in Korean and English.

`t(lang, key, **values)` formats one of them. Both tables hold the same keys with the same
placeholders (a test checks this), so adding a message means adding it twice.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("ko", "en")

EN: dict[str, str] = {
    "start": (
        "Hi {name}! I am DreamReel. Write down a dream you had, in Korean or English, and I will turn "
        "it into a short video: I split it into scenes, read the feeling of each and render them.\n\n"
        "Commands: /settings (scenes, captions, clips), /history (your dreams), /lang ko|en, /help.\n\n"
        "Privacy: your diary is stored so the video can be made and re-made; a person may read it "
        "only if it is sent for review. Nothing is shared with other users."
    ),
    "help": (
        "Send any text message: it is your dream diary (up to {max_chars} characters).\n"
        "/settings: number of scenes (1-6), captions and narration on/off, separate clips too, how scenes connect\n"
        "A photo with your dream (or right after it): the first scene starts from it.\n"
        "A voice message or audio file: I write down what I hear, you confirm it (✅) or send the corrected text.\n"
        "/history: your recent dreams, with a button to get each video again\n"
        "/lang ko or /lang en: the language I answer in\n"
        "Under each video: 👍/👎 to rate it, 🎲 to re-roll one scene, 🎞 to get the clips."
    ),
    "lang_set": "I will answer in English from now on.",
    "lang_usage": "Use /lang ko or /lang en.",
    "not_text": (
        "I can read dreams written as text, or spoken in a voice message. Please type what you dreamt, "
        "or record it, and send it."
    ),
    "too_long": "That diary is {length} characters long; I can take up to {max_chars}. Please shorten it.",
    "unknown_command": "I do not know that command. /help lists what I can do.",
    "limit_active": (
        "You already have {active} dream(s) being made (at most {limit} at once). "
        "I will take the next one when a video is done."
    ),
    "limit_hourly": "You have sent {count} dreams in the last hour (at most {limit}). Please try again later.",
    "received": "📝 Got your dream. Reading it…",
    "stage_planning": "📝 Planning scenes…",
    "stage_approved": "🎨 Scenes planned. Starting to render…",
    "stage_rendering": "🎬 Rendering scene {scene} of {scenes}… {percent}%",
    "stage_rerendering": "🎬 Scene {scene} of {scenes} again, for a better clip (try {attempt} of {attempts})… {percent}%",
    "stage_stitching": "🧵 Stitching the scenes together…",
    "stage_done": "✨ Your dream video is ready.",
    "stage_failed": "⚠️ Making the video failed: {error}. Your diary is saved.",
    "caption": "🌙 Dream #{job_id} · {scenes} scene(s) · feeling: {emotion}",
    "withheld": "🙈 {count} sentence(s) of your dream are left out of the video: DreamReel does not show sexual or gory scenes.",
    "refused": (
        "I will not make a video of this dream. Your diary is saved, and a person from our team will "
        "look at it and let you know."
    ),
    "support": (
        "It sounds like things may be heavy right now. You do not have to carry it alone: please "
        "talk to someone you trust, or call a local crisis line (in Korea 109, any time). If you are "
        "in danger, call your emergency number."
    ),
    "review_approved_user": "A person from our team looked at your dream #{job_id}: the video will be made now.",
    "review_rejected_user": (
        "A person from our team looked at your dream #{job_id} and decided not to make a video of it. "
        "Your diary stays saved."
    ),
    "history_empty": "No dreams yet. Write one down and send it to me.",
    "history_header": "Your recent dreams:",
    "history_line": "#{job_id} · {date} · {status}{emotion}",
    "history_button": "🎬 #{job_id}",
    "video_missing": "The video of dream #{job_id} is not available.",
    "settings_header": (
        "Your settings:\nScenes per video: {segments}\nCaptions: {captions}\nNarration: {narration}\n"
        "Separate clips too: {clips}\nScenes connect: {continuity}"
    ),
    "settings_scenes": "Scenes: {n}",
    "settings_captions": "Captions: {state}",
    "settings_narration": "Narration: {state}",
    "settings_clips": "Separate clips: {state}",
    "on": "on",
    "off": "off",
    "default": "default ({n})",
    "rated": "Thanks, noted.",
    "reroll_choose": "Which scene should I re-roll with a new seed?",
    "reroll_scene": "Scene {n}",
    "reroll_started": "🎲 Re-rolling scene {scene} of dream #{job_id}…",
    "reroll_failed": "Re-rolling failed: {error}",
    "clips_caption": "Dream #{job_id} · scene {scene} of {scenes}",
    "clips_quality": "🎞 quality {overall} · {attempts} render(s)",
    "clips_quality_low": "🎞 quality {overall}, under the bar for {failures}: the best of {attempts} renders",
    "clips_none": "There are no clips for dream #{job_id} yet.",
    "not_yours": "This belongs to someone else's dream.",
    "too_large_link": ("The video is larger than Telegram allows; download it here "
                       "(the link works for {days} days): {url}"),
    "too_large": "The video is larger than Telegram allows, and no download link can be made for it.",
    "smaller_rendition": "(a smaller version; the original is larger than Telegram allows)",
    "button_up": "👍",
    "button_down": "👎",
    "button_reroll": "🎲 Re-roll a scene",
    "button_clips": "🎞 Clips",
    # moderator side
    "not_moderator": "Only moderators can decide reviews.",
    "queue_empty": "No reviews waiting.",
    "queue_header": "{count} review(s) waiting:",
    "card_header": "🛑 Review · dream #{job_id} · {decision}",
    "card_user": "From: {user} (language: {language})",
    "card_diary": "Diary:\n{diary}",
    "card_reasons": "Reasons:",
    "card_reason": "• {category} {score:.2f}{span}",
    "card_no_reasons": "(no reasons recorded)",
    "card_approved": "✅ Approved by {moderator} at {when}",
    "card_rejected": "❌ Rejected by {moderator} at {when}",
    "card_already": "Already decided: {status}.",
    "button_approve": "✅ Approve",
    "button_reject": "❌ Reject",
    "voice_listening": "🎙 Listening to your recording…",
    "voice_transcript": (
        "🎙 I heard:\n\n{text}\n\nIs that your dream? Press ✅ to make the video. If I misheard, just send "
        "the corrected text as a message."
    ),
    "voice_confirm": "✅ Make the video",
    "voice_discard": "🗑 Discard",
    "voice_confirmed": "🎙 {text}\n\n✅ Making the video of this dream.",
    "voice_discarded": "🗑 Discarded. The recording stays saved; send another one or type your dream.",
    "voice_gone": "That recording was already made into a video or discarded.",
    "voice_fetch_failed": "I could not fetch that file from Telegram ({error}). Please send it again.",
    "settings_continuity": "Scenes: {state}",
    "continuity_none": "each alone",
    "continuity_chain": "flow into each other",
    "continuity_keyframe": "one look (key frames)",
    "photo_added": "📷 Got your photo: the first scene of dream #{job_id} starts from it.",
    "photo_added_rerender": "📷 Got your photo: I am making dream #{job_id} again from it.",
    "photo_no_diary": "Send the photo together with your dream (as its caption) or right after the dream's text.",
    "photo_not_used": "{error}\nYour dream is saved and I am making it without the photo.",
    "reject_note": "rejected in Telegram by {moderator}",
}

KO: dict[str, str] = {
    "start": (
        "안녕하세요 {name}님! 저는 DreamReel이에요. 꾼 꿈을 한국어나 영어로 적어 보내 주시면 짧은 영상으로 "
        "만들어 드려요: 꿈을 장면으로 나누고, 장면마다 감정을 읽어서 그려요.\n\n"
        "명령어: /settings (장면 수, 자막, 클립), /history (내 꿈 목록), /lang ko|en, /help.\n\n"
        "개인정보: 영상을 만들고 다시 만들 수 있도록 꿈 일기를 저장해요. 검토가 필요한 경우에만 담당자가 "
        "읽을 수 있고, 다른 사용자와는 공유하지 않아요."
    ),
    "help": (
        "아무 글이나 보내 주시면 꿈 일기로 받아요 ({max_chars}자까지).\n"
        "/settings: 장면 수 (1-6), 자막·내레이션 켜기/끄기, 장면별 클립도 받기, 장면 연결 방식\n"
        "꿈 일기와 함께(또는 바로 뒤에) 사진을 보내면 첫 장면이 그 사진에서 시작해요.\n"
        "음성 메시지나 오디오 파일: 들은 내용을 글로 옮겨 보여 드려요. ✅로 확인하거나 고친 글을 보내 주세요.\n"
        "/history: 최근 꿈 목록과 영상을 다시 받는 버튼\n"
        "/lang ko 또는 /lang en: 답장 언어\n"
        "영상 아래 버튼: 👍/👎 평가, 🎲 장면 하나 다시 만들기, 🎞 장면별 클립 받기."
    ),
    "lang_set": "이제부터 한국어로 답할게요.",
    "lang_usage": "/lang ko 또는 /lang en 으로 바꿀 수 있어요.",
    "not_text": "글로 적거나 음성 메시지로 말한 꿈을 읽을 수 있어요. 꾼 꿈을 적거나 녹음해서 보내 주세요.",
    "too_long": "꿈 일기가 {length}자예요. {max_chars}자까지 받을 수 있으니 조금 줄여 주세요.",
    "unknown_command": "모르는 명령어예요. /help 에서 할 수 있는 일을 볼 수 있어요.",
    "limit_active": (
        "지금 만들고 있는 꿈이 {active}개 있어요 (동시에 {limit}개까지). 영상이 나오면 다음 꿈을 받을게요."
    ),
    "limit_hourly": "최근 한 시간 동안 꿈을 {count}개 보내셨어요 (최대 {limit}개). 잠시 후에 다시 보내 주세요.",
    "received": "📝 꿈을 받았어요. 읽고 있어요…",
    "stage_planning": "📝 장면을 나누고 있어요…",
    "stage_approved": "🎨 장면을 정했어요. 그리기 시작할게요…",
    "stage_rendering": "🎬 장면 {scene}/{scenes} 그리는 중… {percent}%",
    "stage_rerendering": "🎬 더 나은 영상을 위해 장면 {scene}/{scenes} 다시 그리는 중 ({attempt}/{attempts}번째)… {percent}%",
    "stage_stitching": "🧵 장면을 이어 붙이고 있어요…",
    "stage_done": "✨ 꿈 영상이 완성됐어요.",
    "stage_failed": "⚠️ 영상을 만들지 못했어요: {error}. 꿈 일기는 저장되어 있어요.",
    "caption": "🌙 꿈 #{job_id} · 장면 {scenes}개 · 감정: {emotion}",
    "withheld": "🙈 꿈 일기의 {count}개 문장은 영상에서 뺐어요. 드림릴은 성적이거나 잔인한 장면은 만들지 않아요.",
    "refused": (
        "이 꿈은 영상으로 만들지 않을게요. 꿈 일기는 안전하게 저장되었고, 담당자가 직접 살펴본 뒤 "
        "알려 드릴게요."
    ),
    "support": (
        "요즘 많이 힘드신 것 같아요. 혼자 견디지 않으셔도 돼요. 믿을 수 있는 사람과 이야기하거나, "
        "언제든 자살예방상담전화 109 에 전화해 주세요. 위급하면 112 나 119 에 연락하세요."
    ),
    "review_approved_user": "담당자가 꿈 #{job_id}을(를) 확인했어요. 이제 영상을 만들게요.",
    "review_rejected_user": (
        "담당자가 꿈 #{job_id}을(를) 검토한 결과, 영상으로 만들지 않기로 했어요. 꿈 일기는 저장되어 있어요."
    ),
    "history_empty": "아직 꿈이 없어요. 꾼 꿈을 적어서 보내 주세요.",
    "history_header": "최근 꿈 목록:",
    "history_line": "#{job_id} · {date} · {status}{emotion}",
    "history_button": "🎬 #{job_id}",
    "video_missing": "꿈 #{job_id}의 영상이 없어요.",
    "settings_header": (
        "현재 설정:\n영상당 장면 수: {segments}\n자막: {captions}\n내레이션: {narration}\n장면별 클립도 받기: {clips}\n"
        "장면 연결: {continuity}"
    ),
    "settings_continuity": "장면 연결: {state}",
    "continuity_none": "장면마다 따로",
    "continuity_chain": "이어지게",
    "continuity_keyframe": "같은 모습으로 (키프레임)",
    "photo_added": "📷 사진을 받았어요. 꿈 #{job_id}의 첫 장면이 이 사진에서 시작해요.",
    "photo_added_rerender": "📷 사진을 받았어요. 이 사진으로 꿈 #{job_id}을(를) 다시 만들고 있어요.",
    "photo_no_diary": "사진은 꿈 일기와 함께(사진 설명으로) 보내거나 꿈 일기를 보낸 바로 뒤에 보내 주세요.",
    "photo_not_used": "{error}\n꿈 일기는 저장했고, 사진 없이 영상을 만들고 있어요.",
    "settings_scenes": "장면 수: {n}",
    "settings_captions": "자막: {state}",
    "settings_narration": "내레이션: {state}",
    "settings_clips": "장면별 클립: {state}",
    "on": "켜짐",
    "off": "꺼짐",
    "default": "기본값 ({n})",
    "rated": "고마워요, 반영할게요.",
    "reroll_choose": "어느 장면을 새 시드로 다시 만들까요?",
    "reroll_scene": "장면 {n}",
    "reroll_started": "🎲 꿈 #{job_id}의 장면 {scene}을(를) 다시 만들고 있어요…",
    "reroll_failed": "다시 만들지 못했어요: {error}",
    "clips_caption": "꿈 #{job_id} · 장면 {scene}/{scenes}",
    "clips_quality": "🎞 품질 {overall} · 렌더링 {attempts}회",
    "clips_quality_low": "🎞 품질 {overall}, {failures} 기준 미달: {attempts}번 렌더링 중 가장 나은 것",
    "clips_none": "꿈 #{job_id}의 클립이 아직 없어요.",
    "not_yours": "다른 사람의 꿈이에요.",
    "too_large_link": "영상이 텔레그램 용량 제한보다 커요. 여기서 받아 주세요({days}일 동안 열려요): {url}",
    "too_large": "영상이 텔레그램 용량 제한보다 크고, 내려받기 링크를 만들 수 없어요.",
    "smaller_rendition": "(용량을 줄인 버전이에요. 원본은 텔레그램 제한보다 커요)",
    "button_up": "👍",
    "button_down": "👎",
    "button_reroll": "🎲 장면 다시 만들기",
    "button_clips": "🎞 클립",
    "not_moderator": "검토 결정은 담당자만 할 수 있어요.",
    "queue_empty": "기다리는 검토가 없어요.",
    "queue_header": "검토 대기 {count}건:",
    "card_header": "🛑 검토 · 꿈 #{job_id} · {decision}",
    "card_user": "보낸 사람: {user} (언어: {language})",
    "card_diary": "꿈 일기:\n{diary}",
    "card_reasons": "사유:",
    "card_reason": "• {category} {score:.2f}{span}",
    "card_no_reasons": "(기록된 사유 없음)",
    "card_approved": "✅ {moderator} 승인 ({when})",
    "card_rejected": "❌ {moderator} 거절 ({when})",
    "card_already": "이미 결정됨: {status}.",
    "button_approve": "✅ 승인",
    "button_reject": "❌ 거절",
    "reject_note": "텔레그램에서 {moderator}이(가) 거절",
    "voice_listening": "🎙 녹음을 듣고 있어요…",
    "voice_transcript": (
        "🎙 이렇게 들었어요:\n\n{text}\n\n이 꿈이 맞나요? ✅를 누르면 영상을 만들어요. 잘못 들었다면 고친 "
        "내용을 메시지로 보내 주세요."
    ),
    "voice_confirm": "✅ 영상 만들기",
    "voice_discard": "🗑 버리기",
    "voice_confirmed": "🎙 {text}\n\n✅ 이 꿈으로 영상을 만들게요.",
    "voice_discarded": "🗑 버렸어요. 녹음은 저장되어 있어요. 다시 녹음하거나 글로 적어 보내 주세요.",
    "voice_gone": "이 녹음은 이미 영상으로 만들었거나 버렸어요.",
    "voice_fetch_failed": "텔레그램에서 파일을 받지 못했어요 ({error}). 다시 보내 주세요.",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "ko": KO}

EMOTION_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "anger": "anger", "disgust": "disgust", "fear": "fear", "joy": "joy",
        "neutral": "calm", "sadness": "sadness", "surprise": "surprise",
    },
    "ko": {
        "anger": "분노", "disgust": "혐오", "fear": "두려움", "joy": "기쁨",
        "neutral": "잔잔함", "sadness": "슬픔", "surprise": "놀라움",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "received": "received", "planned": "planned", "approved": "approved", "in_review": "in review",
        "blocked": "not made", "rejected": "rejected", "rendering": "rendering",
        "stitching": "stitching", "done": "done", "failed": "failed",
    },
    "ko": {
        "received": "받음", "planned": "계획됨", "approved": "승인됨", "in_review": "검토 중",
        "blocked": "만들지 않음", "rejected": "거절됨", "rendering": "그리는 중",
        "stitching": "잇는 중", "done": "완성", "failed": "실패",
    },
}


def normalize_language(code: str | None) -> str:
    """Map a Telegram `language_code` (or a stored preference) to "ko" or "en"."""
    return "ko" if code and code.lower().startswith("ko") else "en"


def t(lang: str, key: str, **values: object) -> str:
    """The message `key` in `lang` ("ko" or "en"), formatted with `values`."""
    table = TEXTS.get(lang, EN)
    template = table.get(key) or EN[key]
    return template.format(**values) if values else template


def emotion_name(lang: str, emotion: str | None) -> str:
    """A person-readable name of an emotion label."""
    if not emotion:
        return "?"
    return EMOTION_NAMES.get(lang, EMOTION_NAMES["en"]).get(emotion, emotion)


def status_name(lang: str, status: str) -> str:
    """A person-readable name of a job state."""
    return STATUS_NAMES.get(lang, STATUS_NAMES["en"]).get(status, status)
