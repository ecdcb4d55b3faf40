"""``leakguard dp probe``: does a trained model recite its training data?

The extraction test of the memorization literature (Carlini et al., "extractable
memorization"): prompt the model with the first K words of a training record, continue it
greedily (and, with ``--sample``, once sampled), and compare the continuation with the
record's true next M words. The same is done for a *control*: records of the same kind the
model never saw. The control's rates are what a model that generalises (not memorises)
reaches; the gap between the two is memorization, tested (Fisher's exact test) rather than
eyeballed.

Words are the normalized lexemes of :mod:`leakguard.memorization.normalize`, so "the same
words" means what the memorization index means by it. Parts: :mod:`.prompts` (drawing),
:mod:`.generate` (the model), :mod:`.scoring`, :mod:`.stats`, :mod:`.run` (batches,
resume), :mod:`.report`. Nothing here imports torch at import time.

The result file, ``probe.json`` (version 1; keys are only ever added, a change of meaning
bumps ``version``). Where: ``DIR/probe.json`` for ``leakguard dp probe --out DIR``;
``OUT/dp/probe.json`` and ``OUT/non_dp/probe.json`` for ``leakguard dp audit --out OUT``,
whose ``privacy_report.json`` also holds both under ``probe`` (see
:func:`leakguard.dp.canary_audit.run_audit`). Keys:

- ``version``: 1.
- ``model``: the path given; ``model_kind``: ``"builtin"``, ``"hf"`` or ``"given"`` (a
  generator passed from Python); ``model_files``: ``[{"path", "sha256"}]`` of the files the
  model was read from (``model.pt``; every file of a ``save_pretrained`` directory), empty
  for ``"given"``.
- ``corpus``, ``control``, ``index`` (null without ``--index``): the paths given;
  ``inputs``: ``{"corpus", "control", "index"}``, each ``{"path", "sha256"}`` of the file
  (``index`` null without one; for ``dp audit`` the corpus hash is over the training texts
  with the planted canaries, one JSON string per line).
- ``settings``: ``prefixes``, ``prefix_words``, ``suffix_words``, ``seed``, ``batch_size``,
  ``sample``, ``temperature``; ``device``: as asked (``cpu``, ``cuda``, ``auto``).
- ``too_short``: ``{"training", "control"}``, records too short to cut.
- ``resumed_prompts``: prompts whose scores an earlier, interrupted run had written.
- ``groups``: ``{"training", "repeated", "control"}``, each with ``prompts``,
  ``exact_extractions``, ``exact_extraction_rate``, ``exact_extraction_ci95`` ([low, high],
  Wilson), ``near_extraction_mean_run``, ``near_extraction_max_run`` (words),
  ``mean_suffix_words``; ``index_hit_rate`` (with an index whose n-gram fits the suffix);
  ``pii_in_true_suffix`` and ``pii_recited`` (``{label: count}``, unless ``--no-pii``).
- ``comparisons``: ``{"training_vs_control", "repeated_vs_control"}``, each with
  ``difference`` (rate minus the control's), ``difference_ci95`` (Newcombe), ``p_value``,
  ``alpha`` (0.05), ``test`` ("Fisher exact, two-sided"), ``verdict`` (``"above"``,
  ``"below"``, ``"indistinguishable"``).
- ``sampled``: null, or (``--sample``) ``{"temperature", "groups", "comparisons"}``: the
  same measures for one seeded sampled continuation per prompt.

No generated text and no PII value is ever written: the batch files a resumable run keeps
(``DIR/probe-batches/``) hold numbers and labels only.
"""

from __future__ import annotations

from leakguard.dp.probe.generate import Generator, Sampling, load_generator, resolve_model
from leakguard.dp.probe.prompts import GROUPS, ProbeSettings, Prompt, cut, draw_prompts
from leakguard.dp.probe.report import PROBE_MD, PROBE_NAME, probe_md, write_probe
from leakguard.dp.probe.run import BATCHES_DIR, RESULT_VERSION, draw_groups, run_probe
from leakguard.dp.probe.scoring import longest_common_run, score_group
from leakguard.dp.probe.stats import compare

__all__ = [
    "BATCHES_DIR",
    "GROUPS",
    "PROBE_MD",
    "PROBE_NAME",
    "RESULT_VERSION",
    "Generator",
    "ProbeSettings",
    "Prompt",
    "Sampling",
    "compare",
    "cut",
    "draw_groups",
    "draw_prompts",
    "load_generator",
    "longest_common_run",
    "probe_md",
    "resolve_model",
    "run_probe",
    "score_group",
    "write_probe",
]
