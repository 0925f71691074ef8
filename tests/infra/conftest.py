"""Fixtures for the synth-and-assert tests: the default service stack (once per module) and its
template (once per run, shared with ``tests.support.templates.service_template``).

The helpers behind them (``new_app``, ``service_stack``, ``only_resource`` ...) live in
``tests/support/templates.py``, where test modules import them from.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.service_stack import ServiceStack
from tests.support.templates import service_stack, service_template


@pytest.fixture(scope="module")
def default_service_stack() -> ServiceStack:
    return service_stack()


@pytest.fixture(scope="module")
def default_template() -> Template:
    # The run's one synthesis of the default stack; tests only read it.
    return service_template()
