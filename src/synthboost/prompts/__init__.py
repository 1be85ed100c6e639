"""Prompts stage: the P0–P7 text prompts of *Synthetic Boost* and the ``anns/*.json`` task files.

Modules: ``templates`` (grammar, ``build_prompts``, ``levels_for``), ``shapes`` (geometric shape
classifier, cache of VQA answers), ``select`` (``select_prompt``), ``annotate``
(``write_annotations``, ``load_annotations``), ``commands`` (CLI ``synthboost prompts``).
"""
