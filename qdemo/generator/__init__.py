"""qdemo.generator."""
