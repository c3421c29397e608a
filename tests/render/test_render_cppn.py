"""CPPN specifics beyond the shared renderer contract."""

from __future__ import annotations

import pytest
import torch

from qdemo.render.cppn import _activate


@pytest.mark.parametrize("width", [8, 12, 7, 1])
def test_unit_j_gets_activation_j_mod_4(width):
    h = torch.randn(2, 5, width, generator=torch.Generator().manual_seed(width))
    expected = [torch.sin, torch.tanh, lambda x: torch.exp(-x * x), lambda x: x]
    out = _activate(h)
    assert out.shape == h.shape
    for j in range(width):
        torch.testing.assert_close(out[..., j], expected[j % 4](h[..., j]))
