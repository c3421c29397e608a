"""Image parameterisations (renderers): solutions (B, dim) -> images (B, 3, H, W) in [0, 1].

Renderer classes are imported lazily through :data:`RENDERERS` / :func:`make_renderer`.
"""

from qdemo.render.base import RENDERERS, Renderer, make_renderer

__all__ = ["RENDERERS", "Renderer", "make_renderer"]
