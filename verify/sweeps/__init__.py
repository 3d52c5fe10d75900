"""Resumable sweeps over (model, m, n, seed) grids: the results store, the executors, the sweep driver."""
