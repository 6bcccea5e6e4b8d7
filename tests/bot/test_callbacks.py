"""Callback data: packed within Telegram's limit, forged data refused."""

from __future__ import annotations

import pytest

from bot import callbacks
from bot.callbacks import InvalidCallback


def test_round_trip() -> None:
    data = callbacks.pack("rgs", "district-a")
    assert data == "v1:rgs:district-a"
    parsed = callbacks.unpack(data)
    assert parsed.action == "rgs"
    assert parsed.arg == "district-a"


@pytest.mark.parametrize(
    "data",
    [
        "",
        None,
        "rgs:district-a",  # no version
        "v0:rgs:district-a",  # another version
        "v1:nope:x",  # unknown action
        "v1:rgs",  # missing argument
        "v1:rgs:a:b",  # extra argument
        "v1:rgs:../../etc",  # characters we never produce
        "v1:rgs:" + "a" * 80,  # over 64 bytes
        "v1:ok:abc",  # an id that is not a number
        "v1:ok:99999999999",  # an id beyond 32 bits
        "v1:pick:1:x",  # the second id malformed
    ],
)
def test_forged_data_is_refused(data: str | None) -> None:
    with pytest.raises(InvalidCallback):
        callbacks.unpack(data)
    assert not callbacks.matches("rgs")(data)


def test_pack_refuses_what_would_not_fit() -> None:
    with pytest.raises(InvalidCallback):
        callbacks.pack("rgs", "x" * 41)
    with pytest.raises(InvalidCallback):
        callbacks.pack("rgs", "有中文")


def test_matches_only_its_action() -> None:
    assert callbacks.matches("lang")("v1:lang:en")
    assert not callbacks.matches("lang")("v1:rgs:en")
