"""Module-scoped fixtures for the synth-and-assert tests: the default service stack, once.

The helpers behind them (``new_app``, ``service_stack``, ``only_resource`` ...) live in
``tests/support/templates.py``, where test modules import them from.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.service_stack import ServiceStack
from tests.support.templates import service_stack


@pytest.fixture(scope="module")
def default_service_stack() -> ServiceStack:
    return service_stack()


@pytest.fixture(scope="module")
def default_template(default_service_stack: ServiceStack) -> Template:
    return Template.from_stack(default_service_stack)
