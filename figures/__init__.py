"""The papers' figures and the companion's own, drawn from ``python -m verify.all``'s output.

``python -m figures.all [--out DIR] [--from REPORT_DIR] [--profile quick|full]`` (see :mod:`figures.all`).
One module per figure, each declaring ``FIGURE`` (a :class:`figures.spec.FigureSpec`):

- ``fig1_plane``: next-token cells on a plane cut of the final-representation space (Fig. 1);
- ``fig2_accessibility``: accessibility against n, sigmoid fits, n50 against m beside T1 (Fig. 2);
- ``fig3_cells``: cell-volume distribution D and D^1..D^4, median and threshold (Fig. 3, non-uniform cells);
- ``fig4_copying``: copying accuracy against length with sigmoid fit (Fig. 4);
- ``table1_refinements``: bound/measured slope for ball, cone, box, non-uniform cells (Table 1);
- ``info_vs_m``: information against m - T1 bound, exact enumeration, trained prompts;
- ``capacity_precision``: capacity against precision bits on the tightness witness;
- ``context_plateau``: information retained against context length, beside T2;
- ``accessible_fraction``: accessible fraction against n on a log axis, |V|^-n envelope;
- ``distinguishable_contexts``: distinguishable contexts against n without positions (T2, exact);
- ``meanfield_invariance``: the mean-field lemma's invariance errors (T2's premise);
- ``dataset_capacity``: dataset memorization through one prompt against Consequence B.

Shared pieces: :mod:`figures.style` (grayscale-safe style, PNG + PDF), :mod:`figures.source` (report
reader, and the readers several figures share), :mod:`figures.spec` (the declaration). Figures read data
and compute bounds (``bounds``); they measure nothing: the zoo's geometry comes from
``verify.experiments.geometry`` (``data/geometry.json``) like every other measurement
(``tests/test_layout.py`` enforces it).
"""
