"""The 7-way emotion-distribution head: multinomial logistic regression on standardised features."""

from __future__ import annotations

import numpy as np
import torch


def fit_dist_head(Z: np.ndarray, P: np.ndarray, *, l2: float = 1e-3, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: standardised features Z (R, F) -> target distributions
    P (R, 7) by minimising mean KL(P || softmax(ZW + b)) + l2 |W|^2 (L-BFGS).
    Returns (W (F, 7), b (7,))."""
    Zt = torch.from_numpy(np.asarray(Z, np.float32))
    Pt = torch.from_numpy(np.asarray(P, np.float32))
    W = torch.zeros(Zt.shape[1], Pt.shape[1], requires_grad=True)
    b = torch.zeros(Pt.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(Zt @ W + b, dim=1)
        loss = -(Pt * logp).sum(1).mean() + l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach().numpy(), b.detach().numpy()


def predict_dist(Z: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(R, F) standardised features -> (R, 7) distributions (softmax of ZW + b)."""
    logits = Z @ W + b
    logits = logits - logits.max(1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


__all__ = ["fit_dist_head", "predict_dist"]
