"""Image parameterisations (renderers): solutions (B, dim) -> images (B, 3, H, W) in [0, 1]."""
