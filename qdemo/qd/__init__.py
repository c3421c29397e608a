"""qdemo.qd."""
