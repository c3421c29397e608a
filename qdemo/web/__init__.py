"""qdemo.web."""
