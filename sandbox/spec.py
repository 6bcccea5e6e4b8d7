"""The vendored Bot API description (``sandbox/api/api.json``), indexed for lookups."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_DISCRIMINATOR = re.compile(r'(?:must be|always) "?([a-z_]+)"?')


@dataclass(frozen=True)
class Field:
    """One parameter of a method or field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class Shape:
    """A method or an object type: its name and fields (empty for abstract types)."""

    name: str
    fields: dict[str, Field]
    subtypes: tuple[str, ...] = ()

    def required(self) -> list[str]:
        """Names of the required fields."""
        return [f.name for f in self.fields.values() if f.required]

    def discriminator(self) -> str | None:
        """The constant value of the ``type``/``status``/``source`` field, if documented."""
        for key in ("type", "status", "source"):
            field = self.fields.get(key)
            match = _DISCRIMINATOR.search(field.description) if field else None
            if match:
                return match.group(1)
        return None


def _shape(raw: dict[str, Any]) -> Shape:
    fields = {
        f["name"]: Field(f["name"], tuple(f["types"]), bool(f["required"]), f["description"])
        for f in raw.get("fields", [])
    }
    return Shape(raw["name"], fields, tuple(raw.get("subtypes", ())))


class ApiSpec:
    """Methods (looked up case-insensitively, as Telegram does) and types of the Bot API."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "?")
        self.methods = {name.lower(): _shape(raw) for name, raw in data["methods"].items()}
        self.types = {name: _shape(raw) for name, raw in data["types"].items()}

    @classmethod
    def load(cls) -> ApiSpec:
        """Load the copy vendored in ``sandbox/api/api.json`` (parsed once per process)."""
        return _load_vendored()

    def method(self, name: str) -> Shape | None:
        """Return the method called ``name`` (any letter case) or None."""
        return self.methods.get(name.lower())

    def type(self, name: str) -> Shape | None:
        """Return the object type called ``name`` or None for primitives/unknown names."""
        return self.types.get(name)

    def concrete(self, name: str) -> list[Shape]:
        """Expand an abstract type (e.g. BotCommandScope) into its concrete subtypes."""
        shape = self.types.get(name)
        if shape is None:
            return []
        if not shape.subtypes:
            return [shape]
        return [sub for child in shape.subtypes for sub in self.concrete(child)]


@cache
def _load_vendored() -> ApiSpec:
    text = resources.files("sandbox").joinpath("api/api.json").read_text(encoding="utf-8")
    return ApiSpec(json.loads(text))
