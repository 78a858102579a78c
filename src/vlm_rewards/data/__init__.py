"""Datasets built from the project's own simulators: caption corpora for pre-training and
labelled evaluation datasets for the reward's precision and recall.

Example:
    >>> from vlm_rewards.data import collect_corpus, load_corpus  # doctest: +SKIP
    >>> collect_corpus("corpus", domains=("phone",), frames_per_domain=512, seed=0)  # doctest: +SKIP
    >>> from vlm_rewards.data import collect_evalset, load_evalset  # doctest: +SKIP
    >>> collect_evalset("evalset", sections=("phone:common",), frames=256, seed=0)  # doctest: +SKIP
"""

from vlm_rewards.data.corpus import (
    COMPOSITIONAL_HOLDOUT,
    Corpus,
    CorpusError,
    collect_corpus,
    load_corpus,
    load_shard,
    read_corpus,
    read_manifest,
)
from vlm_rewards.data.evalset import (
    EvalSection,
    EvalSet,
    EvalSetError,
    EvalSplit,
    collect_evalset,
    write_evalset,
    load_evalset,
    read_evalset_manifest,
)

__all__ = [
    "COMPOSITIONAL_HOLDOUT",
    "Corpus",
    "CorpusError",
    "EvalSection",
    "EvalSet",
    "EvalSetError",
    "EvalSplit",
    "collect_corpus",
    "collect_evalset",
    "write_evalset",
    "load_corpus",
    "load_evalset",
    "load_shard",
    "read_corpus",
    "read_evalset_manifest",
    "read_manifest",
]
