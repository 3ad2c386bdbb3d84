"""FakeSlack's workspace: users, channels, messages, files, reactions and the ts clock.

All state lives in one ``Workspace`` guarded by ``lock``; the HTTP and WebSocket threads and
the test's own calls take it for every read and change. Rendering of the Slack JSON shapes
(``user_json``, ``file_json``, ``message_json``) follows the payloads in tests/data/slack/.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class SlackError(Exception):
    """A Web API error: answered as HTTP 200 ``{"ok": false, "error": code}``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class User:
    """One workspace member."""

    id: str
    name: str
    display_name: str
    is_bot: bool = False
    real_name: str = ""


@dataclass
class Channel:
    """A channel (C…) or a bot DM (D…); ``member`` says whether the bot is in it."""

    id: str
    name: str
    member: bool = True
    im_user: str | None = None


@dataclass
class StoredFile:
    """An uploaded file: its metadata and bytes."""

    id: str
    name: str
    content: bytes
    mimetype: str
    user: str
    created: int
    channels: list[str] = field(default_factory=list)


@dataclass
class Message:
    """One message in a channel; ``thread_ts`` is the parent ts for replies (and for parents
    that have replies), None for a message without a thread."""

    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None
    bot_id: str | None = None
    metadata: JSON | None = None
    files: list[str] = field(default_factory=list)
    client_msg_id: str | None = None


class Clock:
    """Unique, strictly increasing Slack timestamps ("1712345678.000100")."""

    def __init__(self) -> None:
        self._last_us = 0

    def next_ts(self) -> str:
        """Return a ts later than every ts returned before."""
        now_us = int(time.time() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 100)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Return a sortable key of a ts; raises SlackError invalid_ts for a malformed one."""
    sec, dot, frac = ts.partition(".")
    if not (sec.isdigit() and dot and frac.isdigit() and len(frac) == 6):
        raise SlackError("invalid_ts")
    return int(sec), int(frac)


class Workspace:
    """The fake workspace's data; every method expects ``lock`` held by the caller."""

    def __init__(self, team_id: str, team_domain: str, bot_user_id: str, bot_id: str) -> None:
        self.lock = threading.RLock()
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = "A0FAKEAPP1"
        self.clock = Clock()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[str, list[Message]] = {}
        self.reactions: dict[tuple[str, str], list[str]] = {}
        self.files_base = "http://127.0.0.1:0"
        self._file_seq = 0
        self.users[bot_user_id] = User(bot_user_id, "factory", "factory", is_bot=True)

    # -- lookups ---------------------------------------------------------------

    def user(self, user_id: str) -> User:
        """Return a user; raises SlackError user_not_found."""
        if user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def channel(self, channel_id: str) -> Channel:
        """Return a channel, resolving a user id to the bot's DM with them (as chat.postMessage
        does); raises SlackError channel_not_found."""
        if channel_id.startswith(("U", "W")) and channel_id in self.users:
            return self.dm_channel(channel_id)
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return self.channels[channel_id]

    def dm_channel(self, user_id: str) -> Channel:
        """Return (opening on first use) the bot's DM channel with ``user_id``."""
        for chan in self.channels.values():
            if chan.im_user == user_id:
                return chan
        chan = Channel(f"D{user_id[1:]}", user_id, member=True, im_user=user_id)
        self.channels[chan.id] = chan
        self.messages[chan.id] = []
        return chan

    def message(self, channel_id: str, ts: str) -> Message:
        """Return the message ``ts`` in a channel; raises SlackError message_not_found."""
        for msg in self.messages.get(channel_id, []):
            if msg.ts == ts:
                return msg
        raise SlackError("message_not_found")

    def thread(self, channel_id: str, thread_ts: str) -> list[Message]:
        """Return the parent then its replies in ts order; raises thread_not_found."""
        try:
            parent = self.message(channel_id, thread_ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        if parent.thread_ts not in (None, parent.ts):
            parent = self.message(channel_id, parent.thread_ts or parent.ts)
        replies = [
            m for m in self.messages[channel_id] if m.thread_ts == parent.ts and m.ts != parent.ts
        ]
        return [parent, *sorted(replies, key=lambda m: ts_key(m.ts))]

    # -- changes ---------------------------------------------------------------

    def post(
        self,
        channel: Channel,
        user: str,
        text: str,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        metadata: JSON | None = None,
        files: list[str] | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        """Append a message (a reply when ``thread_ts`` names a message; a reply's ts is
        resolved to its parent, as Slack does) and return it."""
        parent_ts: str | None = None
        if thread_ts:
            parent = self.message(channel.id, thread_ts)
            parent_ts = parent.thread_ts or parent.ts
            self.message(channel.id, parent_ts).thread_ts = parent_ts
        msg = Message(
            channel.id,
            self.clock.next_ts(),
            user,
            text,
            thread_ts=parent_ts,
            bot_id=bot_id,
            metadata=metadata,
            files=list(files or []),
            client_msg_id=client_msg_id,
        )
        self.messages.setdefault(channel.id, []).append(msg)
        for file_id in msg.files:
            shared = self.files[file_id].channels
            if channel.id not in shared:
                shared.append(channel.id)
        return msg

    def add_file(self, name: str, content: bytes, mimetype: str, user: str) -> StoredFile:
        """Store a file uploaded by ``user`` and return it."""
        self._file_seq += 1
        file_id = f"F{self._file_seq:09d}"
        stored = StoredFile(file_id, name, content, mimetype, user, int(time.time()))
        self.files[file_id] = stored
        return stored

    # -- rendering -------------------------------------------------------------

    def permalink(self, msg: Message) -> str:
        """Return the message's permalink in Slack's form."""
        digits = msg.ts.replace(".", "")
        base = f"https://{self.team_domain}.slack.com/archives/{msg.channel}/p{digits}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            return f"{base}?thread_ts={msg.thread_ts}&cid={msg.channel}"
        return base

    def user_json(self, user: User) -> JSON:
        """Return a users.info ``user`` object."""
        real = user.real_name or user.display_name
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "avatar_hash": "g0000000000",
                "display_name": user.display_name,
                "display_name_normalized": user.display_name,
                "email": f"{user.name}@example.com",
                **{f"image_{n}": f"https://avatars.example.com/{user.id}_{n}.png" for n in _SIZES},
                "image_original": f"https://avatars.example.com/{user.id}.png",
                "real_name": real,
                "real_name_normalized": real,
                "status_emoji": "",
                "status_text": "",
                "team": self.team_id,
            },
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "has_2fa": False,
        }

    def file_json(self, stored: StoredFile) -> JSON:
        """Return a files.info ``file`` object (url_private served by this fake)."""
        url = f"{self.files_base}/files-pri/{self.team_id}-{stored.id}/{stored.name}"
        ext = stored.name.rpartition(".")[2].lower() if "." in stored.name else "binary"
        perma = (
            f"https://{self.team_domain}.slack.com/files/{stored.user}/{stored.id}/{stored.name}"
        )
        public: dict[str, list[JSON]] = {c: [] for c in stored.channels if c.startswith("C")}
        private: dict[str, list[JSON]] = {c: [] for c in stored.channels if not c.startswith("C")}
        return {
            "id": stored.id,
            "created": stored.created,
            "timestamp": stored.created,
            "name": stored.name,
            "title": stored.name,
            "mimetype": stored.mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": stored.user,
            "username": "",
            "editable": False,
            "size": len(stored.content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(public),
            "public_url_shared": False,
            "display_as_bot": False,
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            "permalink": perma,
            "permalink_public": f"https://slack-files.com/{self.team_id}-{stored.id}-0000000000",
            "channels": [c for c in stored.channels if c.startswith("C")],
            "groups": [c for c in stored.channels if c.startswith("G")],
            "ims": [c for c in stored.channels if c.startswith("D")],
            "shares": {"public": public, "private": private} if private else {"public": public},
            "comments_count": 0,
            "is_starred": False,
            "has_rich_preview": False,
        } | (_image_fields(url) if stored.mimetype.startswith("image/") else {})

    def message_json(self, msg: Message, with_metadata: bool) -> JSON:
        """Return a message as conversations.replies (and chat.postMessage) shows it."""
        out: JSON = {"type": "message", "user": msg.user, "text": msg.text, "ts": msg.ts}
        if msg.client_msg_id:
            out["client_msg_id"] = msg.client_msg_id
        if msg.bot_id:
            out |= {"bot_id": msg.bot_id, "app_id": self.app_id}
        out["team"] = self.team_id
        if msg.files:
            out |= {"files": [self.file_json(self.files[f]) for f in msg.files], "upload": False}
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
            if msg.thread_ts == msg.ts:
                replies = [
                    m for m in self.messages[msg.channel] if m.thread_ts == msg.ts and m != msg
                ]
                users = sorted({m.user for m in replies})
                out |= {
                    "reply_count": len(replies),
                    "reply_users_count": len(users),
                    "latest_reply": max((m.ts for m in replies), key=ts_key, default=msg.ts),
                    "reply_users": users,
                    "is_locked": False,
                    "subscribed": False,
                }
            else:
                out["parent_user_id"] = self.message(msg.channel, msg.thread_ts).user
        if with_metadata and msg.metadata is not None:
            out["metadata"] = copy.deepcopy(msg.metadata)
        names = self.reactions.get((msg.channel, msg.ts), [])
        if names:
            out["reactions"] = [{"name": n, "users": [self.bot_user_id], "count": 1} for n in names]
        return out


_SIZES = (24, 32, 48, 72, 192, 512)


def _image_fields(url: str) -> JSON:
    stem = url.rpartition(".")[0] if "." in url.rpartition("/")[2] else url
    return {
        "original_w": 176,
        "original_h": 226,
        "image_exif_rotation": 1,
        "thumb_64": f"{stem}_64.png",
        "thumb_80": f"{stem}_80.png",
        "thumb_160": f"{stem}_160.png",
        "thumb_360": f"{stem}_360.png",
        "thumb_360_w": 176,
        "thumb_360_h": 226,
    }
