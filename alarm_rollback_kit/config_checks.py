"""The error every props check raises, and the range check most of them use.

``ConfigError`` names the field, the value and what is allowed (with where the limit is
documented), so a bad value fails at synth or construction with a message a user can act
on. Shared by the props modules (``config``, ``edge_config``) and the sample's stage config.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is outside what AWS (or the kit) accepts."""

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        super().__init__(f"invalid config {field_name}={value!r}: allowed {allowed}")
        self.field_name = field_name
        self.value = value
        self.allowed = allowed


def check_range(name: str, value: float, low: float, high: float, source: str) -> None:
    if not low <= value <= high:
        raise ConfigError(name, value, f"{low}..{high} ({source})")
