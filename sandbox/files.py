"""Files known to the sandbox: bot uploads and placeholders for simulated user media."""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass

from sandbox.errors import UploadedFile, bad_request

# A 1x1 PNG, so a downloaded "photo" from a simulated user opens in an image viewer.
_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
_MAX_PLACEHOLDER = 20 * 1024 * 1024  # the Bot API's own download limit
_FOLDERS = {"photo": "photos", "document": "documents", "sticker": "stickers", "voice": "voice"}
_EXTENSIONS = {"photo": ".jpg", "document": "", "sticker": ".webp", "voice": ".oga"}
_MIME = {"photo": "image/jpeg", "sticker": "image/webp", "voice": "audio/ogg"}


@dataclass
class FileRecord:
    """One stored file; ``data`` is None for placeholders generated on download."""

    file_id: str
    file_unique_id: str
    kind: str
    file_name: str
    mime_type: str
    size: int
    file_path: str
    data: bytes | None = None

    def content(self) -> bytes:
        """The bytes served at ``/file/bot<token>/<file_path>``."""
        if self.data is not None:
            return self.data
        if self.kind == "photo":
            return _PIXEL_PNG
        return bytes(min(self.size, _MAX_PLACEHOLDER))

    def telegram(self) -> dict[str, object]:
        """The Bot API File object (as getFile returns it)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """Registry of files by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, FileRecord] = {}
        self._by_path: dict[str, FileRecord] = {}
        self._counter = itertools.count(1)

    def add(
        self,
        kind: str,
        *,
        file_name: str | None = None,
        size: int | None = None,
        data: bytes | None = None,
        mime_type: str | None = None,
    ) -> FileRecord:
        """Register a file and return its record with fresh ids."""
        number = next(self._counter)
        digest = hashlib.sha1(f"{kind}:{number}".encode()).digest()
        token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        name = file_name or f"file_{number}{_EXTENSIONS.get(kind, '')}"
        if size is None:
            size = len(data) if data is not None else len(_PIXEL_PNG)
        record = FileRecord(
            file_id=f"SBX{kind[:2].upper()}{number:05d}{token}",
            file_unique_id=f"U{number:05d}{token[:8]}",
            kind=kind,
            file_name=name,
            mime_type=mime_type or _MIME.get(kind, "application/octet-stream"),
            size=size,
            file_path=f"{_FOLDERS.get(kind, 'files')}/file_{number}{_EXTENSIONS.get(kind, '')}",
            data=data,
        )
        self._by_id[record.file_id] = record
        self._by_path[record.file_path] = record
        return record

    def upload(self, kind: str, upload: UploadedFile) -> FileRecord:
        """Register a multipart upload sent by the bot."""
        return self.add(
            kind,
            file_name=upload.filename or None,
            data=upload.data,
            mime_type=upload.content_type or None,
        )

    def resolve(self, kind: str, value: UploadedFile | str) -> FileRecord:
        """Turn an InputFile-or-String parameter into a record, as Telegram would.

        A string is a known file_id, or an HTTP URL (not fetched: the sandbox is offline, so
        a placeholder stands in for the remote file).
        """
        if isinstance(value, UploadedFile):
            return self.upload(kind, value)
        known = self.get(value)
        if known is not None:
            return known
        if value.startswith(("http://", "https://")):
            name = value.rstrip("/").rsplit("/", 1)[-1] or None
            return self.add(kind, file_name=name, size=1024)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def get(self, file_id: str) -> FileRecord | None:
        """Look a file up by file_id (the small photo size "<id>_s" shares its record)."""
        return self._by_id.get(file_id) or self._by_id.get(file_id.removesuffix("_s"))

    def by_path(self, path: str) -> FileRecord | None:
        """Look a file up by its download path."""
        return self._by_path.get(path)
