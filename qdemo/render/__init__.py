"""Image parameterisations (renderers): solutions (B, dim) -> images (B, 3, H, W) in [0, 1].

Renderer classes are imported lazily through :data:`RENDERERS` / :func:`make_renderer`;
the names below are re-exported lazily too (importing ``qdemo.render`` imports no torch).
"""

from qdemo._lazy import lazy_exports

__all__ = ["RENDERERS", "Renderer", "make_renderer", "renderer_class"]

__getattr__, __dir__ = lazy_exports(__name__, {"base": ("RENDERERS", "Renderer", "make_renderer", "renderer_class")})
