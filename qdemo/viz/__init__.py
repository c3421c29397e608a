"""Plots: heatmaps, montages, metric curves."""
