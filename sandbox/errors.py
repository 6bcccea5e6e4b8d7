"""Errors the fake Bot API answers with, and the uploaded-file value type."""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    """A Bot API error response: ``{"ok": false, "error_code": code, "description": ...}``.

    Attributes:
        code: HTTP status and ``error_code`` (400, 401, 403, 404, 409).
        description: Telegram's wording, e.g. ``"Bad Request: chat not found"``.
        violation: Whether it is the bot's fault and so recorded as a violation. A 403 for a
            user who blocked the bot is not: the bot cannot know in advance.
    """

    def __init__(
        self,
        code: int,
        description: str,
        *,
        violation: bool = True,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.violation = violation
        # A 429's ``parameters.retry_after``: seconds to wait (flood control).
        self.retry_after = retry_after


def bad_request(detail: str) -> ApiError:
    """Return a 400 error whose description is ``"Bad Request: <detail>"``."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (what the Bot API calls an InputFile)."""

    field: str
    filename: str
    content_type: str
    data: bytes

    def summary(self) -> str:
        """Describe the upload without its bytes, for logs."""
        return f"<file {self.filename!r} {len(self.data)} bytes>"
