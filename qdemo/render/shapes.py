"""Few-colour compositions of soft-rasterised shapes on a plain ground.

A solution describes ``shapes`` shapes drawn in order over a background with "over"
alpha blending. Three kinds (slot ``i`` gets ``kinds[i % len(kinds)]``):

* ``ellipse``: centre, two radii, rotation.
* ``polygon``: a star-convex polygon of ``vertices`` vertices in polar form around a
  centre (vertex ``k`` at angle ``rotation + 2 pi k / K``, radius ``size * f_k`` with
  ``f_k`` in [0.15, 1]), so silhouettes with concavities and spikes are reachable.
* ``stroke``: a thick quadratic Bezier curve (centre, direction, length, bend, width),
  flattened to ``segments`` straight pieces with round caps.

Every shape has a signed distance ``d`` to its outline (negative inside; the ellipse uses
Quilez's first-order approximation, raised to the distance to its bounding box; the polygon
the distance to the edge of the pixel's angular sector; the stroke the exact distance to
the flattened curve). Its coverage is ``sigmoid(-4 d / w)`` with ``w = edge`` pixels (12 % -> 88 % across one pixel by
default), so images are differentiable w.r.t. every geometric and colour parameter.

Palettes:

* ``free``: an RGB colour per shape and for the background (``sigmoid`` of 3 logits).
* ``bicolour`` (like BASS's black-and-white silhouettes): the background and every shape
  take one of two colours, chosen by the sign of one logit each (hard in the forward pass,
  so pixels away from edges carry exactly one of the two colours; the gradient passes
  straight through ``sigmoid(logit)``). The two colours are white and black, or, with
  ``search_colours: true``, two free RGB colours (6 more parameters).

Solutions are unbounded; everything is squashed inside: centres ``1.2 tanh(u / 2)`` (the
canvas is [-1, 1]^2, so shapes can leave it partly), sizes log-uniformly between bounds
through a sigmoid, bends ``tanh``, rotations used as angles directly (periodic).
``initial_solution()`` is a seeded composition: centres spread over the canvas with a
minimum distance, sizes from large (drawn first) to small, a few colours with a lightness
contrast to the ground (bicolour: black figures on white, the odd white shape cutting in).

Options (``renderer.options``): ``shapes`` (9), ``kinds`` (["ellipse", "polygon",
"stroke"], a list or comma-separated string), ``palette`` ("free" | "bicolour"),
``search_colours`` (false; bicolour only), ``edge`` (1.0 pixel), ``vertices`` (6),
``segments`` (6). The batch is rendered in chunks of at most ``2**23`` elements of the
per-pixel maps (about B * R * R * (4 * shapes + 4 per ellipse, 2 per polygon, 2 * segments
per stroke)), so memory stays bounded however large the batch.
"""

from __future__ import annotations

import colorsys
import math
from typing import Any, Sequence

import numpy as np
import torch

from qdemo.render.base import Renderer

KINDS = ("ellipse", "polygon", "stroke")
PALETTES = ("free", "bicolour")
_POS = 1.2  # centres span 1.2 * tanh(u / 2): the [-1, 1] canvas and a margin
_EPS = 1e-12
_CHUNK = 2 ** 23  # elements of the per-pixel maps per forward chunk
# (low, high) bounds of the log-squashed sizes, in canvas half-widths
_ELLIPSE_R = (0.03, 0.9)
_POLY_R = (0.05, 1.0)
_POLY_F = 0.15  # smallest vertex radius as a fraction of the polygon's size
_STROKE_L = (0.1, 1.8)
_STROKE_W = (0.03, 0.3)
_BEND = 0.7  # the control point lies up to 0.7 * length off the chord
# raw parameters per shape kind (colour parameters are separate)
_NPARAM = {"ellipse": 5, "stroke": 6}  # polygon: 4 + vertices


def _logsquash(u: torch.Tensor, lo_hi: tuple[float, float]) -> torch.Tensor:
    lo, hi = lo_hi
    return lo * torch.exp(math.log(hi / lo) * torch.sigmoid(u))


def _logsquash_inv(x: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    lo, hi = lo_hi
    t = np.clip(np.log(np.asarray(x) / lo) / math.log(hi / lo), 0.02, 0.98)
    return np.log(t / (1 - t))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0.02, 0.98)
    return np.log(p / (1 - p))


def _centre(u: torch.Tensor) -> torch.Tensor:
    return _POS * torch.tanh(0.5 * u)


def _row(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """(..., 4) coefficients of ``a px + b py + c (px^2 + py^2) + d`` (broadcast, then stacked)."""
    return torch.stack(torch.broadcast_tensors(a, b, c, d), dim=-1)


def _pick(tables: Sequence[torch.Tensor], idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per pixel, entry ``idx`` (B, S, P) of each (B, S, K) table -> (B, S, P) each."""
    return tuple(torch.gather(v, 2, idx) for v in tables)


# Each kind's ``_<kind>_sdf(q, feats, ...)`` maps its raw parameters q (B, S, n_param) and the
# pixel features feats (4, P) = (px, py, px^2 + py^2, 1) to signed distances (B, S, P).

def _ellipse_sdf(q: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """q [cx, cy, rx, ry, rot]. Quilez's first-order distance ``k0 (k0 - 1) / k1`` with
    k0 = |(x/rx, y/ry)|, k1 = |(x/rx^2, y/ry^2)| in the ellipse's frame (x, y), raised to the
    distance to the bounding box where that is larger (both are lower bounds outside; the box
    removes the faint halo the first-order distance leaves beyond the tips of thin ellipses)."""
    cx, cy = _centre(q[..., 0]), _centre(q[..., 1])  # (B, S)
    rx, ry = _logsquash(q[..., 2:3], _ELLIPSE_R), _logsquash(q[..., 3:4], _ELLIPSE_R)  # (B, S, 1)
    c, s = torch.cos(q[..., 4]), torch.sin(q[..., 4])
    zero = torch.zeros_like(cx)
    row_x, row_y = _row(c, s, zero, -(c * cx + s * cy)), _row(-s, c, zero, s * cx - c * cy)  # (B, S, 4): x, y
    u, v, u2, v2 = (torch.matmul(r, feats)  # (B, S, P) each
                    for r in (row_x / rx, row_y / ry, row_x / (rx * rx), row_y / (ry * ry)))
    k0 = torch.sqrt(u * u + v * v + _EPS)
    k1 = torch.sqrt(u2 * u2 + v2 * v2 + _EPS)
    box = torch.maximum(rx * (u.abs() - 1.0), ry * (v.abs() - 1.0))
    return torch.maximum(k0 * (k0 - 1.0) / k1, box)


def _polygon_sdf(q: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """q [cx, cy, size, rot, f_1..f_K]. Inside the angular sector of edge k the polygon is the
    triangle (centre, v_k, v_k+1): a pixel there is inside iff it is on the inner side of edge
    k's line, and its distance is that to the line inside, to the segment outside (the line
    alone would leave faint rays beyond sharp vertices)."""
    k = q.shape[-1] - 4
    cx, cy = _centre(q[..., 0:1]), _centre(q[..., 1:2])  # (B, S, 1)
    rot = q[..., 3:4]
    radii = _logsquash(q[..., 2:3], _POLY_R) * (_POLY_F + (1 - _POLY_F) * torch.sigmoid(q[..., 4:]))  # (B, S, K)
    ang = rot + torch.arange(k, dtype=q.dtype, device=q.device) * (2 * math.pi / k)  # (B, S, K)
    vx, vy = radii * torch.cos(ang), radii * torch.sin(ang)  # vertices relative to the centre
    ex, ey = torch.roll(vx, -1, dims=-1) - vx, torch.roll(vy, -1, dims=-1) - vy  # edge k: v_k -> v_k+1
    e2 = ex * ex + ey * ey + _EPS
    elen = torch.sqrt(e2)
    nx, ny = ey / elen, -ex / elen  # outward unit normals (vertices run counter-clockwise)
    tx, ty = ex / e2, ey / e2  # position along the edge, 0 at v_k, 1 at v_k+1: tx dx + ty dy - t0
    tables = (nx, ny, nx * vx + ny * vy, tx, ty, tx * vx + ty * vy, elen)  # (B, S, K) each
    dx, dy = feats[0] - cx, feats[1] - cy  # (B, S, P) pixel relative to the centre
    with torch.no_grad():
        phi = torch.remainder(torch.atan2(dy, dx) - rot, 2 * math.pi)
        idx = (phi * (k / (2 * math.pi))).long().clamp_(0, k - 1)  # (B, S, P) sector of each pixel
    nx, ny, off, tx, ty, t0, elen = _pick(tables, idx)  # (B, S, P) the sector's edge
    line = nx * dx + ny * dy - off  # signed distance to the edge's line, outward positive
    t = tx * dx + ty * dy - t0
    beyond = (t - t.clamp(0.0, 1.0)) * elen  # how far past an end of the edge, along it
    return torch.where(line < 0, line, torch.sqrt(line * line + beyond * beyond + _EPS))


def _stroke_sdf(q: torch.Tensor, feats: torch.Tensor, segments: int) -> torch.Tensor:
    """q [cx, cy, rot, length, bend, width]: distance to the quadratic Bezier curve flattened to
    ``segments`` pieces, minus half the width. The nearest piece of each pixel is found without
    autograd (all pieces at once, from functions linear in feats); the distance to it is then
    computed directly, so the backward pass touches one piece per pixel."""
    cx, cy = _centre(q[..., 0:1]), _centre(q[..., 1:2])  # (B, S, 1)
    ux, uy = torch.cos(q[..., 2:3]), torch.sin(q[..., 2:3])
    length = _logsquash(q[..., 3:4], _STROKE_L)
    bend = _BEND * length * torch.tanh(q[..., 4:5])
    half = 0.5 * length
    p0x, p0y, p2x, p2y = cx - half * ux, cy - half * uy, cx + half * ux, cy + half * uy
    p1x, p1y = cx - bend * uy, cy + bend * ux  # control point off the chord's middle
    t = torch.linspace(0.0, 1.0, segments + 1, dtype=q.dtype, device=q.device)  # (n+1,)
    w0, w1, w2 = (1 - t) ** 2, 2 * (1 - t) * t, t * t
    bx, by = w0 * p0x + w1 * p1x + w2 * p2x, w0 * p0y + w1 * p1y + w2 * p2y  # (B, S, n+1) the flattened curve
    ax, ay, ex, ey = bx[..., :-1], by[..., :-1], bx[..., 1:] - bx[..., :-1], by[..., 1:] - by[..., :-1]  # (B, S, n)
    e2 = ex * ex + ey * ey + _EPS
    with torch.no_grad():  # which piece is nearest: t = (p - a).e / |e|^2, |p - a - clamp(t) e|^2
        tt = torch.matmul(_row(ex / e2, ey / e2, torch.zeros_like(ex), -(ex * ax + ey * ay) / e2), feats)  # (B, S, n, P)
        qq = torch.matmul(_row(-2 * ax, -2 * ay, torch.ones_like(ax), ax * ax + ay * ay), feats)  # |p - a|^2
        h = tt.clamp(0.0, 1.0)
        d2 = qq.sub_(tt.mul_(2.0).sub_(h).mul_(h).mul_(e2[..., None]))  # (B, S, n, P) |p - a - h e|^2
        best, idx = d2[:, :, 0], torch.zeros(d2[:, :, 0].shape, dtype=torch.long, device=q.device)
        for i in range(1, segments):  # a running minimum: argmin over a middle axis is slow on CPU
            closer = d2[:, :, i] < best
            best = torch.where(closer, d2[:, :, i], best)
            idx.masked_fill_(closer, i)  # (B, S, P) index of the nearest piece
    # the distance to the nearest piece again, directly (the expanded |p - a|^2 above loses digits)
    ax, ay, ex, ey, e2 = _pick((ax, ay, ex, ey, e2), idx)  # (B, S, P) the nearest piece
    wx, wy = feats[0] - ax, feats[1] - ay
    h = ((wx * ex + wy * ey) / e2).clamp(0.0, 1.0)
    d2 = (wx - h * ex) ** 2 + (wy - h * ey) ** 2
    return torch.sqrt(d2 + _EPS) - 0.5 * _logsquash(q[..., 5:6], _STROKE_W)


def _spread_points(rng: np.random.Generator, n: int, half: float = 0.6) -> np.ndarray:
    """(n, 2) points in [-half, half]^2, each as far as it can be (of 64 tries) from the previous ones."""
    pts = np.zeros((0, 2))
    for _ in range(n):
        cand = rng.uniform(-half, half, size=(64, 2))
        if len(pts) == 0:
            pts = cand[:1]
            continue
        dmin = np.sqrt(((cand[:, None] - pts[None]) ** 2).sum(-1)).min(1)  # (64,)
        ok = np.flatnonzero(dmin >= 1.1 * half / math.sqrt(n))
        pts = np.vstack([pts, cand[ok[0] if len(ok) else int(dmin.argmax())]])
    return pts


def _initial_shape(kind: str, rng: np.random.Generator, centre: np.ndarray, size: float, vertices: int) -> np.ndarray:
    """Raw parameters of one shape of ``kind`` at a raw ``centre`` (2,) with a typical ``size``."""
    rot = rng.uniform(0, 2 * math.pi)
    if kind == "ellipse":
        aspect = math.sqrt(rng.uniform(1.0, 4.0))
        return np.array([*centre, *_logsquash_inv(np.array([size * aspect, size / aspect]), _ELLIPSE_R), rot])
    if kind == "polygon":
        f = rng.uniform(0.3, 1.0, vertices)
        return np.concatenate([centre, _logsquash_inv(np.array([1.3 * size]), _POLY_R), [rot],
                               _logit((f - _POLY_F) / (1 - _POLY_F))])
    width = rng.uniform(0.05, 0.14)
    return np.array([*centre, rot, _logsquash_inv(2.5 * size, _STROKE_L), rng.normal(0.0, 1.0),
                     _logsquash_inv(width, _STROKE_W)])


def _initial_palette(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Background (3,) and shape colours (n, 3): three hues, lightness set against the ground."""
    hues = (rng.uniform() + np.array([0.0, rng.uniform(0.25, 0.4), rng.uniform(0.5, 0.65)])) % 1.0
    light_ground = rng.random() < 0.5
    bg = colorsys.hsv_to_rgb(rng.choice(hues), rng.uniform(0.05, 0.3), rng.uniform(0.85, 0.95) if light_ground
                             else rng.uniform(0.08, 0.2))
    cols = []
    for _ in range(n):
        v = rng.uniform(0.15, 0.6) if light_ground else rng.uniform(0.55, 0.95)
        cols.append(colorsys.hsv_to_rgb(hues[rng.integers(3)], rng.uniform(0.4, 0.9), v))
    return np.array(bg), np.array(cols)


def _parse_kinds(kinds: str | Sequence[str]) -> tuple[str, ...]:
    out = tuple(k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds))
    bad = [k for k in out if k not in KINDS]
    if not out or bad:
        raise ValueError(f"shapes renderer: kinds {list(out)} must be a non-empty list of {', '.join(KINDS)}")
    return out


class ShapeRenderer(Renderer):
    """``(B, dim)`` shape parameters -> ``(B, 3, R, R)`` compositions (see the module docstring).

    Args:
        resolution: output side length in pixels.
        seed: seeds the initial composition (:meth:`initial_solution`).
        shapes: number of shapes, drawn in slot order.
        kinds: shape kinds, assigned to slots cyclically.
        palette: ``"free"`` (RGB per shape and background) or ``"bicolour"``.
        search_colours: bicolour only: the two colours are searched (else white and black).
        edge: width of the soft edge in pixels.
        vertices: vertices per polygon.
        segments: straight pieces per stroke.
    """

    name = "shapes"
    default_options = {"palette": "bicolour"}
    """A run's default: two colours, like BASS's rated silhouettes (docs/evolve.md "Choosing the default")."""

    def __init__(self, *, resolution: int = 64, seed: int = 0, shapes: int = 9,
                 kinds: str | Sequence[str] = KINDS, palette: str = "free", search_colours: bool = False,
                 edge: float = 1.0, vertices: int = 6, segments: int = 6) -> None:
        super().__init__()
        if palette not in PALETTES:
            raise ValueError(f"shapes renderer: palette {palette!r} is not one of {', '.join(PALETTES)}")
        if shapes < 1 or vertices < 3 or segments < 1 or edge <= 0 or resolution < 2:
            raise ValueError("shapes renderer: need shapes >= 1, vertices >= 3, segments >= 1, edge > 0, "
                             f"resolution >= 2; got {shapes}, {vertices}, {segments}, {edge}, {resolution}")
        if search_colours and palette != "bicolour":
            raise ValueError("shapes renderer: search_colours applies to palette 'bicolour' only")
        self.resolution, self.seed, self.n_shapes = int(resolution), int(seed), int(shapes)
        self.kinds = _parse_kinds(kinds)
        self.palette, self.search_colours = palette, bool(search_colours)
        self.edge, self.vertices, self.segments = float(edge), int(vertices), int(segments)
        self.slot_kinds = [self.kinds[i % len(self.kinds)] for i in range(self.n_shapes)]
        self.n_param = {**_NPARAM, "polygon": 4 + self.vertices}
        self.layout = self._layout()
        self.solution_dim = self.layout["end"]
        lin = torch.linspace(-1 + 1 / self.resolution, 1 - 1 / self.resolution, self.resolution)  # pixel centres
        y, x = torch.meshgrid(lin, lin, indexing="ij")  # (R, R); y grows downwards
        x, y = x.reshape(-1), y.reshape(-1)  # (P,)
        features = torch.stack([x, y, x * x + y * y, torch.ones_like(x)])  # (4, P)
        self.register_buffer("features", features, persistent=False)
        rows = {"ellipse": 4, "polygon": 2, "stroke": 2 * self.segments}
        self.maps_per_image = sum(rows[k] for k in self.slot_kinds) + 4 * self.n_shapes  # (P,) maps alive at once, roughly
        self.register_buffer("bw", torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]), persistent=False)

    def _layout(self) -> dict[str, Any]:
        """Offsets of the parameter blocks in a solution vector."""
        pos, lay = 0, {}
        ncol = 3 if self.palette == "free" else 1
        lay["background"] = (pos, pos + ncol)
        pos += ncol
        if self.search_colours:
            lay["colours"] = (pos, pos + 6)
            pos += 6
        for kind in KINDS:
            n = self.slot_kinds.count(kind) * self.n_param[kind]
            lay[kind] = (pos, pos + n)
            pos += n
        lay["shape_colours"] = (pos, pos + self.n_shapes * ncol)
        lay["end"] = pos + self.n_shapes * ncol
        return lay

    def initial_solution(self) -> np.ndarray:
        """A seeded composition: spread centres, sizes from large to small, a few colours."""
        rng = np.random.default_rng(self.seed)
        x = np.zeros(self.solution_dim, dtype=np.float64)
        n = self.n_shapes
        centres = 2.0 * np.arctanh(_spread_points(rng, n) / _POS)  # (S, 2) raw
        sizes = np.geomspace(0.42, 0.15, n) * rng.uniform(0.8, 1.25, n)  # drawn first = largest
        for kind in KINDS:
            slots = [i for i, k in enumerate(self.slot_kinds) if k == kind]
            if slots:
                a, b = self.layout[kind]
                x[a:b] = np.stack([_initial_shape(kind, rng, centres[i], sizes[i], self.vertices)
                                   for i in slots]).ravel()
        (a, b), (c, d) = self.layout["background"], self.layout["shape_colours"]
        if self.palette == "free":
            bg, cols = _initial_palette(rng, n)
            x[a:b], x[c:d] = _logit(bg), _logit(cols).ravel()
            return x
        x[a:b] = -1.5  # white ground
        x[c:d] = np.where((np.arange(n) >= 2) & (rng.random(n) < 0.25), -1.5, 1.5)  # black figures, the odd white cut
        if self.search_colours:
            e, f = self.layout["colours"]
            x[e:f] = _logit(np.array([0.97, 0.97, 0.97, 0.03, 0.03, 0.03]))
        return x

    def _block(self, x: torch.Tensor, key: str, width: int) -> torch.Tensor:
        a, b = self.layout[key]
        return x[:, a:b].reshape(x.shape[0], -1, width)  # (B, n, width)

    def _colours(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Background (B, 3) and shape colours (B, S, 3) in [0, 1]."""
        if self.palette == "free":
            return torch.sigmoid(self._block(x, "background", 3)[:, 0]), torch.sigmoid(self._block(x, "shape_colours", 3))
        if self.search_colours:
            pal = torch.sigmoid(self._block(x, "colours", 3))  # (B, 2, 3)
        else:
            pal = self.bw.to(x.dtype).expand(x.shape[0], 2, 3)
        logits = torch.cat([self._block(x, "background", 1), self._block(x, "shape_colours", 1)], dim=1)  # (B, 1+S, 1)
        soft = torch.sigmoid(logits)
        pick = (logits > 0).to(x.dtype) + (soft - soft.detach())  # exactly 0 or 1; straight-through gradient
        col = pal[:, :1] + pick * (pal[:, 1:] - pal[:, :1])  # (B, 1+S, 3)
        return col[:, 0], col[:, 1:]

    def _alphas(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Coverage (B, P) of every shape, in slot order."""
        feats, scale = self.features.to(x.dtype), -2.0 * self.resolution / self.edge  # 1 px = 2 / R canvas units
        by_kind = {}
        for kind in KINDS:
            if kind in self.slot_kinds:
                q = self._block(x, kind, self.n_param[kind])  # (B, S_kind, n_param)
                d = (_stroke_sdf(q, feats, self.segments) if kind == "stroke"
                     else _ellipse_sdf(q, feats) if kind == "ellipse" else _polygon_sdf(q, feats))  # (B, S_kind, P)
                by_kind[kind] = list(torch.sigmoid(d * scale).unbind(1))  # S_kind x (B, P)
        return [by_kind[kind].pop(0) for kind in self.slot_kinds]

    def _render(self, x: torch.Tensor) -> torch.Tensor:
        bsz, r = x.shape[0], self.resolution
        alpha = self._alphas(x)  # S x (B, P)
        bg, cols = self._colours(x)  # (B, 3), (B, S, 3)
        # "over" in slot order: shape s shows with weight alpha_s * prod_{j > s} (1 - alpha_j)
        trans, weights = torch.ones_like(alpha[0]), []
        for a in reversed(alpha):
            weights.append(a * trans)  # (B, P)
            trans = trans * (1.0 - a)
        weights = torch.stack([trans] + weights[::-1], dim=1)  # (B, 1 + S, P): background first
        img = torch.bmm(torch.cat([bg[:, None], cols], dim=1).transpose(1, 2), weights)  # (B, 3, P)
        # a convex blend, so only rounding leaves [0, 1]; clamp without killing the gradient at exact
        # 0 and 1 (bicolour images are mostly exactly black and white)
        img = img - (img - img.clamp(0.0, 1.0)).detach()
        return img.view(bsz, 3, r, r)

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        step = max(1, _CHUNK // (self.maps_per_image * self.resolution ** 2))
        if solutions.shape[0] <= step:
            return self._render(solutions)
        return torch.cat([self._render(solutions[i:i + step]) for i in range(0, solutions.shape[0], step)])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "shapes": self.n_shapes, "kinds": list(self.kinds), "palette": self.palette,
                "search_colours": self.search_colours, "edge": self.edge, "vertices": self.vertices,
                "segments": self.segments}
