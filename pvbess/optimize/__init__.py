"""Optimal scheduling: the scheduling problem, the DP kernel, its exact bound (HiGHS) and the
result every solver returns.

Layers: ``result`` (plan evaluation and the result table) sits on the physics; ``dp`` and ``exact``
solve; nothing here imports the studies, the scheduler or the plotting.
"""
