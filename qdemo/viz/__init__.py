"""Plots: heatmaps, montages, metric curves, critic agreement (matplotlib, Agg backend).

One module per figure of a run folder (``heatmaps``, ``montage``, ``curves``,
``agreement``; shared look in ``style``; ``plots.plot_all`` draws them all), and the
figures of the commands above the explorer, drawn from plain data: ``compare``,
``generator`` (sweep), ``normalise`` (report), ``ratings`` (``qdemo validate``) and
``saliency`` (``qdemo regressor explain``).

    from qdemo.viz import plot_all
    plot_all("archives/my-run")

Public names are re-exported lazily (importing ``qdemo.viz`` imports no matplotlib).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "HEATMAP_VALUES", "RunData", "critic_agreement_figure", "critic_agreement_levels", "dense_grid",
    "heatmap_figure", "heatmap_values", "load_manifest", "load_metrics", "load_run", "metrics_figure",
    "montage_figure", "montage_selection", "plot_all", "plot_critic_agreement", "plot_heatmap_slices",
    "plot_metrics", "plot_montage", "plot_slots", "save_figure", "slot_montage_figure", "slot_strip_figure",
    "emotion_agreement_figure", "EMOTION_COLORS", "plot_categories",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "categories": ("plot_categories",),
    "agreement": ("critic_agreement_figure", "critic_agreement_levels", "plot_critic_agreement"),
    "curves": ("metrics_figure", "plot_metrics"),
    "heatmaps": ("HEATMAP_VALUES", "heatmap_figure", "heatmap_values", "plot_heatmap_slices"),
    "montage": ("montage_figure", "montage_selection", "plot_montage"),
    "plots": ("plot_all",),
    "rundata": ("RunData", "dense_grid", "load_manifest", "load_metrics", "load_run"),
    "style": ("save_figure",),
    "slots": ("EMOTION_COLORS", "emotion_agreement_figure", "plot_slots", "slot_montage_figure", "slot_strip_figure"),
})
