"""Plots: heatmaps, montages, metric curves, critic agreement (matplotlib, Agg backend).

    from qdemo.viz import plot_all
    plot_all("archives/my-run")

Public names are re-exported lazily (importing ``qdemo.viz`` imports no matplotlib).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "Grid", "HEATMAP_VALUES", "RunData", "critic_agreement_levels", "dense_grid", "heatmap_figure",
    "heatmap_values", "load_manifest", "load_metrics", "load_run", "montage_selection", "plot_all",
    "plot_critic_agreement", "plot_heatmap_slices", "plot_metrics", "plot_montage", "save_figure",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "plots": ("HEATMAP_VALUES", "critic_agreement_levels", "heatmap_figure", "heatmap_values",
              "montage_selection", "plot_all", "plot_critic_agreement", "plot_heatmap_slices", "plot_metrics",
              "plot_montage", "save_figure"),
    "rundata": ("Grid", "RunData", "dense_grid", "load_manifest", "load_metrics", "load_run"),
})
