"""The one check every config test makes: the error names the field, the value and the range.

``config_error`` runs ``build`` (``load_config({...})``, a props dataclass, a construct)
and returns the ``ConfigError`` it must raise; ``assert_names`` checks that the error
carries the field, the value and a fragment of the allowed range, in its attributes and in
the message a user reads.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alarm_rollback_kit.config import ConfigError

_UNSET = object()


def config_error(build: Callable[[], object]) -> ConfigError:
    """The ``ConfigError`` that ``build`` raises (the test fails if it raises none)."""
    with pytest.raises(ConfigError) as caught:
        build()
    return caught.value


def assert_names(error: ConfigError, *, field: str, allowed: str, value: object = _UNSET) -> None:
    """``error`` names ``field`` (and ``value``, when given) and ``allowed`` is in its range."""
    assert error.field_name == field
    if value is not _UNSET:
        assert error.value == value
    assert allowed in error.allowed
    assert str(error).startswith(f"invalid config {field}={error.value!r}: allowed ")
