"""Structural checks of a Bot API call against the spec: names, presence and types.

Top-level parameters arrive as strings (form/multipart, where PTB JSON-encodes nested
objects) or as JSON values; both are decoded into typed Python values here. Nested objects
are checked strictly: exact JSON types, required fields, and exactly the spec's field names.
Unknown names are "soft" findings: Telegram silently ignores them, so the call still
succeeds, but the sandbox records them because they are almost always typos.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import UploadedFile, bad_request
from sandbox.spec import ApiSpec, Shape

_INT = re.compile(r"-?\d{1,20}")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}
_PRIMITIVES = {"Integer", "Float", "String", "Boolean", "InputFile"}
# Parameters Telegram still accepts though the docs dropped them; PTB no longer sends them.
LEGACY = {"reply_to_message_id": "Integer", "allow_sending_without_reply": "Boolean"}
# PTB routes every send/edit through one helper that adds these whenever ``Defaults`` sets
# them, even to methods without them (editMessageReplyMarkup, forwardMessage...). Telegram
# ignores them; they are PTB's doing, not the bot's, so they are not reported.
PTB_DEFAULT_LEAKS = frozenset({"parse_mode", "disable_notification", "protect_content"})


@dataclass
class Checked:
    """Decoded parameters plus the soft findings (unknown names) met on the way."""

    params: dict[str, Any]
    soft: list[str] = field(default_factory=list)


class Checker:
    """Decode and type-check parameters of one method call."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec

    def check(self, method: Shape, raw: dict[str, Any], files: dict[str, UploadedFile]) -> Checked:
        """Return typed parameters; raise ApiError(400) on a missing or mistyped one."""
        out = Checked({})
        for name, value in raw.items():
            spec_field = method.fields.get(name)
            if spec_field is not None:
                types: tuple[str, ...] = spec_field.types
            elif name in LEGACY and "reply_parameters" in method.fields:
                types = (LEGACY[name],)
            elif isinstance(value, UploadedFile) or name in PTB_DEFAULT_LEAKS:
                continue  # an attach://name part (resolved below), or PTB's Defaults leaking
            else:
                out.soft.append(f'unknown parameter "{name}" for method {method.name}')
                continue
            out.params[name] = self._top(name, types, value, files, out.soft)
        for name in method.required():
            if out.params.get(name) in (None, ""):
                raise bad_request(
                    "message text is empty" if name == "text" else f"{name} is empty"
                )
        return out

    def _top(
        self,
        name: str,
        types: tuple[str, ...],
        value: Any,
        files: dict[str, UploadedFile],
        soft: list[str],
    ) -> Any:
        if isinstance(value, UploadedFile):
            if "InputFile" in types:
                return value
            raise bad_request(f'parameter "{name}" can\'t be a file upload')
        if not isinstance(value, str):
            return self.value(value, types, name, soft)
        # Strings: try every non-String reading first so "123" is an Integer chat_id.
        for kind in sorted(types, key=lambda t: t == "String"):
            decoded = _from_string(kind, value, files)
            if decoded is not _NO:
                return decoded if kind in _PRIMITIVES else self.value(decoded, (kind,), name, soft)
        raise bad_request(f'parameter "{name}" must be of type {" or ".join(types)}')

    def value(self, value: Any, types: tuple[str, ...], where: str, soft: list[str]) -> Any:
        """Check a decoded JSON value against one of ``types``; return it unchanged."""
        kinds = [kind for kind in types if _loosely(value, kind)]
        if not kinds:
            raise bad_request(f'field "{where}" must be of type {" or ".join(types)}')
        # Unions of objects (reply_markup): take the first whose required fields are present.
        fitting = [kind for kind in kinds if self._fits(kind, value)]
        return self._deep(value, (fitting or kinds)[0], where, soft)

    def _fits(self, kind: str, value: Any) -> bool:
        if not isinstance(value, dict) or kind in _PRIMITIVES:
            return True
        return any(all(k in value for k in s.required()) for s in self.spec.concrete(kind))

    def _deep(self, value: Any, kind: str, where: str, soft: list[str]) -> Any:
        if kind.startswith("Array of "):
            inner = kind[len("Array of ") :]
            for index, item in enumerate(value):
                self.value(item, (inner,), f"{where}[{index}]", soft)
            return value
        if kind in _PRIMITIVES:
            return value
        shape = self._pick(kind, value)
        for key, item in value.items():
            spec_field = shape.fields.get(key)
            if spec_field is None:
                soft.append(f'unknown field "{key}" in {shape.name} ({where})')
            else:
                self.value(item, spec_field.types, f"{where}.{key}", soft)
        for key in shape.required():
            if key not in value:
                raise bad_request(f"can't parse {shape.name}: Can't find field \"{key}\"")
        return value

    def _pick(self, kind: str, value: dict[str, Any]) -> Shape:
        """Choose the concrete subtype an abstract type's value stands for."""
        candidates = self.spec.concrete(kind)
        if not candidates:
            raise bad_request(f"sandbox: type {kind} is not in the vendored spec")
        if len(candidates) == 1:
            return candidates[0]
        tag = next((value[k] for k in ("type", "status", "source") if k in value), None)
        for shape in candidates:
            if shape.discriminator() is not None and shape.discriminator() == tag:
                return shape
        raise bad_request(f"can't parse {kind}: unsupported type {tag!r}")


_NO = object()


def _from_string(kind: str, value: str, files: dict[str, UploadedFile]) -> Any:
    """Decode a form string as ``kind`` or return the sentinel ``_NO``."""
    if kind == "String":
        return value
    if kind == "Integer":
        return int(value) if _INT.fullmatch(value.strip()) else _NO
    if kind == "Float":
        try:
            return float(value)
        except ValueError:
            return _NO
    if kind == "Boolean":
        low = value.strip().lower()
        return True if low in _TRUE else False if low in _FALSE else _NO
    if kind == "InputFile":
        if value.startswith("attach://") and value[len("attach://") :] in files:
            return files[value[len("attach://") :]]
        return _NO
    try:
        return json.loads(value)
    except ValueError:
        return _NO


def _loosely(value: Any, kind: str) -> bool:
    """Whether a JSON value has the right outer shape for ``kind``."""
    if kind.startswith("Array of "):
        return isinstance(value, list)
    if kind == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind == "String":
        return isinstance(value, str)
    if kind == "InputFile":
        return isinstance(value, UploadedFile)
    return isinstance(value, dict)


__all__ = ["LEGACY", "PTB_DEFAULT_LEAKS", "Checked", "Checker"]
