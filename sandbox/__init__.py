"""An offline fake Telegram Bot API with a web chat, for trying and testing the bot.

See ``sandbox/README.md``. ``sandbox.telegram_html`` can be used on its own to check that a
text in HTML parse mode is one Telegram accepts.
"""

from sandbox.client import SandboxClient
from sandbox.persona import DEFAULT_PERSONAS, PERSONA_KINDS, Persona
from sandbox.server import SandboxServer
from sandbox.telegram_html import ParseError, TextError, check_text, parse_html

__all__ = [
    "DEFAULT_PERSONAS",
    "PERSONA_KINDS",
    "ParseError",
    "Persona",
    "SandboxClient",
    "SandboxServer",
    "TextError",
    "check_text",
    "parse_html",
]
