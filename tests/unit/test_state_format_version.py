"""State format_version: a wrong type gets a message that says what to write (issue 13, item 22)."""

from __future__ import annotations

import json

import pytest

from lorainfra.errors import StateError
from lorainfra.state.model import FORMAT_VERSION, State


def _doc(version: object) -> str:
    return json.dumps({"format_version": version, "lineage": "l", "serial": 3, "resources": {}, "pending": {}})


def test_the_current_version_loads() -> None:
    assert State.loads(_doc(FORMAT_VERSION)).serial == 3


def test_a_quoted_version_says_to_write_the_number() -> None:
    with pytest.raises(StateError) as info:
        State.loads(_doc(str(FORMAT_VERSION)))
    message = str(info.value)
    assert f"is the string '{FORMAT_VERSION}'" in message
    assert f'write "format_version": {FORMAT_VERSION} (a number, without quotes)' in message
    assert "is not supported (this lorainfra reads" not in message


@pytest.mark.parametrize("version", [True, 1.0, None])
def test_other_types_are_refused_with_what_to_write(version: object) -> None:
    with pytest.raises(StateError, match=f'write "format_version": {FORMAT_VERSION}'):
        State.loads(_doc(version))


def test_a_newer_version_says_to_upgrade() -> None:
    with pytest.raises(StateError, match=r"format_version 99 is not supported .* upgrade lorainfra"):
        State.loads(_doc(99))
