"""Moved to ``tests/support/bare.py``; kept so test modules not yet updated still import."""

from tests.support.bare import (
    ACCOUNT,
    ALB_ARN,
    APPLICATION,
    GROUP,
    REGION,
    TG_ARN,
    bare_edge,
    bare_stack,
    created_service,
    imported_service,
    public_vpc,
)

__all__ = [
    "ACCOUNT",
    "ALB_ARN",
    "APPLICATION",
    "GROUP",
    "REGION",
    "TG_ARN",
    "bare_edge",
    "bare_stack",
    "created_service",
    "imported_service",
    "public_vpc",
]
