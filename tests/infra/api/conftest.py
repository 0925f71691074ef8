"""Fixtures for the API stack's test modules: one cached synth (``tests.support.api_template``).

``template`` and ``stack_resources`` are the whole stack; ``resources`` only the OrdersApi
construct's (the stack's rollback function has a table, log group and alarms of its own);
``standalone`` is the construct alone in a user's stack with their topic.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.api_stack import ApiStack
from tests.support import api_template as api
from tests.support.api_template import Resources


@pytest.fixture(scope="module", name="app_and_stack")
def app_and_stack_fixture() -> tuple[cdk.App, ApiStack]:
    return api.app_and_stack()


@pytest.fixture(scope="module", name="template")
def template_fixture() -> Template:
    return api.template()


@pytest.fixture(scope="module", name="stack_resources")
def stack_resources_fixture() -> Resources:
    """Every resource of the stack (its topic and keys are the stack's, not the API's)."""
    return api.resources()


@pytest.fixture(scope="module", name="resources")
def orders_api_resources_fixture() -> Resources:
    """The OrdersApi construct's resources in the stack (the API's own, nothing else)."""
    return api.orders_api(api.resources())


@pytest.fixture(scope="module", name="standalone")
def standalone_fixture() -> Template:
    return api.standalone()
