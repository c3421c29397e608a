"""Command-line entry points of qdemo.compare (registered by qdemo.cli)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
