"""qdemo.compare."""
