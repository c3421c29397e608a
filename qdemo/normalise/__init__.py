"""qdemo.normalise."""
