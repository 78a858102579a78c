"""Datasets built from the project's own simulators (caption corpora for pre-training).

Example:
    >>> from vlm_rewards.data import collect_corpus, load_corpus  # doctest: +SKIP
    >>> collect_corpus("corpus", domains=("phone",), frames_per_domain=512, seed=0)  # doctest: +SKIP
"""

from vlm_rewards.data.corpus import COMPOSITIONAL_HOLDOUT, CorpusError, collect_corpus, load_corpus, load_shard, read_manifest

__all__ = ["COMPOSITIONAL_HOLDOUT", "CorpusError", "collect_corpus", "load_corpus", "load_shard", "read_manifest"]
