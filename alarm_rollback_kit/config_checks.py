"""The error every props check raises, the range check most of them use, and their base.

``ConfigError`` names the field, the value and what is allowed (with where the limit is
documented), so a bad value fails at synth or construction with a message a user can act
on. A props dataclass derives from ``CheckedConfig`` and declares a field with a fixed
range as ``ranged(default, low, high, source)``, so the range stands beside the default.
Shared by the props modules (``config``, ``edge_config``) and the sample's stage config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, TypeVar

T = TypeVar("T")


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


_RANGE = "alarm_rollback_kit.range"


def ranged(default: T, low: float, high: float, source: str) -> T:
    """A field defaulting to ``default`` whose value must lie in ``low..high``; ``source``
    says where that range comes from. ``CheckedConfig.validate`` checks it."""
    return field(default=default, metadata={_RANGE: (low, high, source)})


@dataclass(frozen=True, kw_only=True)
class CheckedConfig:
    """Base of the props dataclasses: building one checks it.

    ``validate`` checks every ``ranged`` field, named ``<section>.<field>`` in the error;
    a subclass extends it with the checks a fixed range cannot say (patterns, one field
    bounded by another). A section it holds was checked when that section was built.
    """

    section: ClassVar[str]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for item in fields(self):
            if _RANGE in item.metadata:
                low, high, source = item.metadata[_RANGE]
                check_range(
                    f"{self.section}.{item.name}", getattr(self, item.name), low, high, source
                )
