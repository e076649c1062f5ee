"""A Telegram Bot API server on 127.0.0.1, for end-to-end tests of the real aiogram bot.

It speaks the Bot API over real HTTP (aiohttp, on the test's event loop): `POST /bot<token>/<method>`
with form-encoded or multipart bodies, answering `{"ok": true, "result": ...}` or Telegram's
error objects. Tests play the users: `send_text`, `send_sticker`, `press` (a callback button)
queue updates that `getUpdates` serves, honouring `offset` and long-poll `timeout`.

Everything the bot calls is recorded in `calls` (method, parameters, uploaded files as bytes,
HTTP status). Failures can be injected: `fail_next(method, 429, retry_after=1)` (flood control),
`block(chat_id)` (403 "bot was blocked by the user"), `max_upload_bytes` (413).

Files users send (`send_voice`, `send_audio`, `send_document` with real bytes) are served like
Telegram does: `getFile` answers a File object with a `file_path` (400 "file is too big" above
20 MB), and `GET /file/bot<token>/<file_path>` returns the bytes.

Implemented methods: getMe, getUpdates, getFile, deleteWebhook, setWebhook, setMyCommands,
sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage, sendVideo, sendDocument,
sendChatAction, answerCallbackQuery. Anything else answers 404 like the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 777000
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses larger files for bots
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "DreamReel", "username": "dreamreel_test_bot"}
JSON_FIELDS = {"reply_markup", "entities", "caption_entities", "commands", "allowed_updates", "scope", "media"}


@dataclass
class ApiCall:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    status: int
    at: float

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeTelegramServer:
    token: str = "123456:TEST-dreamreel-token"
    max_upload_bytes: int | None = None
    calls: list[ApiCall] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    user_files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, bytes)
    downloads: list[str] = field(default_factory=list)  # file paths the bot fetched
    blocked: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._failures: dict[str, list[Failure]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- server lifecycle ------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the users' side -------------------------------------------------------------------

    def user(self, user_id: int, *, first_name: str = "Dreamer", language_code: str = "ko",
             username: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name,
                                "language_code": language_code}
        if username:
            user["username"] = username
        return user

    def _incoming(self, user: dict[str, Any], chat_id: int | None = None, **content: Any) -> dict[str, Any]:
        chat_id = chat_id if chat_id is not None else user["id"]
        chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]} if chat_id > 0 else {
            "id": chat_id, "type": "supergroup", "title": "Moderators"}
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user,
                   **content}
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._new_update.set()
        return update

    def send_text(self, user: dict[str, Any], text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """The user sends a text message (commands get a bot_command entity, as Telegram adds)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        message = self._incoming(user, chat_id, **content)
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): {text}")
        return self._push({"message": message})

    def send_sticker(self, user: dict[str, Any]) -> dict[str, Any]:
        sticker = {"file_id": "STICKER1", "file_unique_id": "S1", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False, "emoji": "😴"}
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [sticker 😴]")
        return self._push({"message": self._incoming(user, sticker=sticker)})

    def send_photo(self, user: dict[str, Any], data: bytes | None = None, *, caption: str | None = None,
                   width: int = 90, height: int = 90) -> dict[str, Any]:
        """The user sends a photo (its bytes downloadable through getFile), with an optional caption."""
        photo = [{**self._user_file(data if data is not None else b"", "photos", ".jpg"), "width": width,
                  "height": height}]
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [photo] {caption or ''}")
        return self._push({"message": self._incoming(user, **content)})

    def _user_file(self, data: bytes, folder: str, extension: str, size: int | None = None) -> dict[str, Any]:
        n = next(self._file_ids)
        file_id = f"USERFILE{n}"
        self.user_files[file_id] = (f"{folder}/file_{n}{extension}", data)
        return {"file_id": file_id, "file_unique_id": f"uf{n}", "file_size": len(data) if size is None else size}

    def send_voice(self, user: dict[str, Any], data: bytes = b"", *, duration: int = 3,
                   file_size: int | None = None) -> dict[str, Any]:
        """A voice message: `data` is the OGG/Opus file the bot may download (`file_size` can claim more)."""
        voice = {**self._user_file(data, "voice", ".oga", file_size), "duration": duration, "mime_type": "audio/ogg"}
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [voice {duration}s, {len(data)} bytes]")
        return self._push({"message": self._incoming(user, voice=voice)})

    def send_audio(self, user: dict[str, Any], data: bytes, *, file_name: str, mime_type: str,
                   duration: int = 0) -> dict[str, Any]:
        """An audio file (sent as music/audio, not recorded in the chat)."""
        audio = {**self._user_file(data, "music", "." + file_name.rsplit(".", 1)[-1]), "duration": duration,
                 "file_name": file_name, "mime_type": mime_type}
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [audio {file_name}, {len(data)} bytes]")
        return self._push({"message": self._incoming(user, audio=audio)})

    def send_document(self, user: dict[str, Any], data: bytes, *, file_name: str,
                      mime_type: str = "application/octet-stream", caption: str | None = None,
                      file_size: int | None = None) -> dict[str, Any]:
        """A file; `file_size` may claim more than `data` (a file too large to fetch)."""
        document = {**self._user_file(data, "documents", "." + file_name.rsplit(".", 1)[-1], file_size),
                    "file_name": file_name, "mime_type": mime_type}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [file {file_name}, {len(data)} bytes] "
                               f"{caption or ''}")
        return self._push({"message": self._incoming(user, **content)})

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> dict[str, Any]:
        """The user presses an inline button with callback data `data` under a bot message."""
        label = button_label(message, data) or data
        self.transcript.append(f"→ {user['first_name']} ({user['id']}): [presses {label}]")
        query = {"id": f"cb{next(self._update_ids)}", "from": user, "chat_instance": "ci",
                 "message": message, "data": data}
        return self._push({"callback_query": query})

    # -- failure injection -----------------------------------------------------------------

    def fail_next(self, method: str, status: int, description: str = "", *, retry_after: int | None = None,
                  times: int = 1) -> None:
        if not description:
            description = {429: f"Too Many Requests: retry after {retry_after}",
                           403: "Forbidden: bot was blocked by the user"}.get(status, "Bad Request")
        self._failures.setdefault(method, []).extend(Failure(status, description, retry_after) for _ in range(times))

    def block(self, chat_id: int) -> None:
        """From now on the user has blocked the bot: every send to them gets 403."""
        self.blocked.add(chat_id)

    # -- assertions ------------------------------------------------------------------------

    def calls_to(self, method: str, chat_id: int | None = None, *, ok: bool | None = None) -> list[ApiCall]:
        return [
            c for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
            and (ok is None or (c.status == 200) == ok)
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts (and captions) of messages successfully sent to a chat, in order."""
        return [c.text for c in self.calls
                if c.chat_id == chat_id and c.status == 200 and c.method in ("sendMessage", "sendVideo", "sendDocument")]

    def last_message(self, chat_id: int, predicate: Callable[[dict[str, Any]], bool] = lambda m: True
                     ) -> dict[str, Any] | None:
        """The latest message the bot has in `chat_id` (as Telegram would show it) matching `predicate`."""
        found = [m for (c, _), m in self.messages.items() if c == chat_id and m.get("from", {}).get("id") == BOT_ID
                 and predicate(m)]
        return found[-1] if found else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
        """Poll `predicate` until it returns something truthy; fail with the recent calls if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                recent = "\n".join(f"  {c.method} {c.status} {c.params}" for c in self.calls[-15:])
                raise AssertionError(f"timed out waiting for {what or predicate}; recent calls:\n{recent}")
            await asyncio.sleep(0.05)

    # -- the Bot API -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await self._read(request)
        if method == "getUpdates":
            self.calls.append(ApiCall(method, params, files, 200, time.monotonic()))  # recorded on arrival
            result = await self._get_updates(params)
            return web.json_response({"ok": True, "result": result})
        failure = self._take_failure(method, params)
        if failure is not None:
            self.calls.append(ApiCall(method, params, files, failure.status, time.monotonic()))
            self.transcript.append(f"← {method} to {params.get('chat_id')}: refused {failure.status} {failure.description}")
            extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after else {}
            return _error(failure.status, failure.description, **extra)
        if self.max_upload_bytes is not None and any(len(b) > self.max_upload_bytes for b in files.values()):
            self.calls.append(ApiCall(method, params, files, 413, time.monotonic()))
            return _error(413, "Request Entity Too Large")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self.calls.append(ApiCall(method, params, files, 404, time.monotonic()))
            return _error(404, "Not Found: method not found")
        try:
            result = handler(params, files)
        except _ApiError as exc:
            self.calls.append(ApiCall(method, params, files, exc.status, time.monotonic()))
            return _error(exc.status, exc.description)
        self.calls.append(ApiCall(method, params, files, 200, time.monotonic()))
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        found = next((data for file_path, data in self.user_files.values() if file_path == path), None)
        if found is None:
            return _error(404, "Not Found")
        self.downloads.append(path)
        return web.Response(body=found, content_type="application/octet-stream")

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = value.file.read()
                        params[key] = f"<file {value.filename}>"
                    elif key in JSON_FIELDS and isinstance(value, str):
                        params[key] = json.loads(value)
                    else:
                        params[key] = value
        # "attach://<part>" names the multipart part holding a field's file, as the real API accepts
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                files[key] = files[value[9:]]
        return params, files

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        chat = params.get("chat_id")
        if chat is not None and int(chat) in self.blocked and (method.startswith(("send", "edit"))):
            return Failure(403, "Forbidden: bot was blocked by the user")
        queue = self._failures.get(method)
        return queue.pop(0) if queue else None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        # confirmed updates (id < offset) are forgotten, like Telegram does
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return list(self._updates[:100])

    # -- methods ---------------------------------------------------------------------------

    def _m_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return BOT_USER

    def _m_getFile(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.user_files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self.user_files[file_id]
        if len(data) > DOWNLOAD_LIMIT:
            raise _ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}

    def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _m_setWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if params.get("text"):
            kind = "alert" if params.get("show_alert") in ("true", True) else "toast"
            self.transcript.append(f"← answerCallbackQuery ({kind}): {params['text']}")
        return True

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": "private", "first_name": "Dreamer"} if chat_id > 0 else {
            "id": chat_id, "type": "supergroup", "title": "Moderators"}
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                                   "from": BOT_USER, **content}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if not params.get("text"):
            raise _ApiError(400, "Bad Request: message text is empty")
        message = self._new_message(params, text=params["text"])
        self.transcript.append(f"← sendMessage #{message['message_id']} to {params['chat_id']}: {params['text']}"
                               + _buttons(params))
        return message

    def _find(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    def _m_editMessageText(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        message = self._find(params)
        markup = params.get("reply_markup")
        if message.get("text") == params.get("text") and message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")
        message["text"] = params["text"]
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        self.transcript.append(f"← editMessageText #{message['message_id']}: {params['text']}" + _buttons(params))
        return message

    def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        message = self._find(params)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    def _m_deleteMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self._find(params)
        del self.messages[(int(params["chat_id"]), int(params["message_id"]))]
        return True

    def _file(self, params: dict[str, Any], files: dict[str, bytes], field_name: str) -> tuple[str, int]:
        if field_name in files:
            file_id = f"FILE{next(self._file_ids)}"
            self.uploads[file_id] = files[field_name]
            return file_id, len(files[field_name])
        file_id = str(params.get(field_name) or "")
        if file_id not in self.uploads:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return file_id, len(self.uploads[file_id])

    def _m_sendVideo(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id, size = self._file(params, files, "video")
        video = {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 128, "height": 72, "duration": 2,
                 "mime_type": "video/mp4", "file_size": size}
        message = self._new_message(params, video=video, caption=params.get("caption", ""))
        self.transcript.append(f"← sendVideo #{message['message_id']} to {params['chat_id']}: [{size} bytes mp4] "
                               f"{params.get('caption', '')}" + _buttons(params))
        return message

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id, size = self._file(params, files, "document")
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size}
        message = self._new_message(params, document=document, caption=params.get("caption", ""))
        self.transcript.append(f"← sendDocument #{message['message_id']} to {params['chat_id']}: [{size} bytes]")
        return message


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description, **extra}, status=status)


def _buttons(params: dict[str, Any]) -> str:
    markup = params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not rows:
        return ""
    return "  " + " ".join(f"[{b['text']}]" for row in rows for b in row)


def button_label(message: dict[str, Any], data: str) -> str | None:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button["text"])
    return None


def button_data(message: dict[str, Any], prefix: str) -> list[str]:
    """Callback data of a message's buttons that start with `prefix`."""
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
        if str(b.get("callback_data", "")).startswith(prefix)
    ]
