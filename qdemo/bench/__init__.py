"""``qdemo evolve-bench``: measured figures for the explorer, one module per benchmark.

Benchmarks are commands that print figures (medians and ratios measured in one run),
never timed tests. Each mode writes ``<out>/<mode>.json`` and ``<out>/<mode>.md`` (the
command line, qdemo.cli.evolve_bench, also draws ``qd.png`` / ``reach.png`` with qdemo.viz):

- :mod:`~qdemo.bench.throughput`: end-to-end scored images/s against the bare searcher
  forward pass and against scoring one image at a time.
- :mod:`~qdemo.bench.qd`: seeds x emitters at a fixed evaluation budget (cached Ray
  tasks, :mod:`~qdemo.bench.qd_tasks`), against random search, MAP-Elites and real photos.
- :mod:`~qdemo.bench.scaling`: wall time and peak memory as the grid and the batch grow.
- :mod:`~qdemo.bench.reach`: how much of the VA grid any image can reach (free pixels).
- :mod:`~qdemo.bench.common`: helpers shared by them.

Public names are re-exported lazily: importing ``qdemo.bench`` imports neither torch nor ribs.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "QDBenchConfig", "QD_EMITTERS", "ReachConfig", "ScalingConfig", "TARGETS", "ThroughputConfig",
    "bench_qd", "bench_reach", "bench_scaling", "bench_throughput", "qd_markdown", "qd_reference_task",
    "qd_run_task", "reach_markdown", "scaling_markdown", "scaling_task", "summarise_qd", "throughput_markdown",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "common": ("TARGETS",),
    "qd": ("QDBenchConfig", "QD_EMITTERS", "bench_qd", "qd_markdown", "summarise_qd"),
    "qd_tasks": ("qd_reference_task", "qd_run_task"),
    "reach": ("ReachConfig", "bench_reach", "reach_markdown"),
    "scaling": ("ScalingConfig", "bench_scaling", "scaling_markdown", "scaling_task"),
    "throughput": ("ThroughputConfig", "bench_throughput", "throughput_markdown"),
})
