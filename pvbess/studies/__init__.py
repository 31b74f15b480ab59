"""Studies built on the kernels: the optimal-dispatch comparison of the Iquitos year, sizing
sweeps with their economics and Pareto front, and the bess-manager peer corpus."""
