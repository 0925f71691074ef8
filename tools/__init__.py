"""Operator tools that live beside the kit but are not part of any stack: see ``release``."""
