"""The one emotion-model spec syntax (standard library only: CLI help texts import it).

Every command and config that names an emotion model (``--searcher``, ``--critic``,
``searcher:`` / ``critic:`` / ``emotion_model:`` in the YAML configs) takes one of:

- ``searcher`` / ``critic``: the shipped weights of that model (``qdemo/emotion/weights/``);
- ``shipped``: the shipped model of the role being filled (the generator and compare defaults);
- ``tiny`` / ``tiny:SEED``: an untrained seeded test model (tests, smoke runs);
- a path to a ``.safetensors`` file written by ``qdemo regressor train``;
- ``none``: no model (where a command can do without one, e.g. ``--critic none`` skips the
  confirmation; the loader refuses it where a model is needed).

:func:`qdemo.emotion.zoo.load_emotion_model` loads it; ``docs/emotion-model.md`` documents it.
"""

from __future__ import annotations

from pathlib import Path

from qdemo.errors import ConfigError

ROLES = ("searcher", "critic")
"""The two jobs an emotion model does: the searcher is optimised, the critic confirms."""
MODEL_SPEC_HELP = ("searcher | critic (the shipped models) | shipped (the shipped model of this role) | "
                   "tiny[:SEED] (untrained test model) | PATH (.safetensors from `qdemo regressor train`) | "
                   "none (no model, where one is optional)")
"""The spec syntax as every command's help shows it."""


def parse_model_spec(spec: object, role: str) -> tuple[str, object]:
    """``spec`` -> ``("shipped", name)``, ``("tiny", seed)``, ``("path", Path)`` or ``("none", None)``.

    ``None`` and ``"shipped"`` name the shipped model of ``role``; ``"none"`` (any case) names
    no model. Whether a path exists is checked by the loader. A malformed spec raises
    :class:`ConfigError` naming it."""
    if role not in ROLES:
        raise ConfigError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
    text = "shipped" if spec is None else str(spec).strip()
    if not text:
        raise ConfigError(f"--{role}: empty model spec (expected {MODEL_SPEC_HELP})")
    if text.lower() == "none":
        return "none", None
    if text == "tiny" or text.startswith("tiny:"):
        try:
            return "tiny", int(text.split(":", 1)[1]) if ":" in text else 0
        except ValueError:
            raise ConfigError(f"--{role} {text!r}: expected tiny or tiny:SEED (an integer)") from None
    if text in ROLES:
        return "shipped", text
    if text == "shipped":
        return "shipped", role
    return "path", Path(text)


def is_none(spec: object) -> bool:
    """True when ``spec`` names no model (``"none"``, any case)."""
    return spec is not None and str(spec).strip().lower() == "none"


__all__ = ["MODEL_SPEC_HELP", "ROLES", "is_none", "parse_model_spec"]
