"""Module-scoped fixtures for the synth-and-assert tests: the default service stack, once.

The helpers behind them (``new_app``, ``service_stack``, ``only_resource`` ...) live in
``tests/support/templates.py``; they are imported here too for older test modules.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.service_stack import ServiceStack
from tests.support.templates import (
    new_app,
    only_resource,
    resources_of,
    service_stack,
    service_template,
)

__all__ = [
    "default_service_stack",
    "default_template",
    "new_app",
    "only_resource",
    "resources_of",
    "service_stack",
    "service_template",
]


@pytest.fixture(scope="module")
def default_service_stack() -> ServiceStack:
    return service_stack()


@pytest.fixture(scope="module")
def default_template(default_service_stack: ServiceStack) -> Template:
    return Template.from_stack(default_service_stack)
