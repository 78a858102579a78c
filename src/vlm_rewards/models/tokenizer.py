"""Train a small BPE tokenizer with the ``tokenizers`` library and wrap it in transformers.

Used for the built-in models (trained on the caption corpus) and by tests that build
tiny models offline. The result saves in Hugging Face format (``tokenizer.json`` plus
``tokenizer_config.json``) and loads with ``AutoTokenizer.from_pretrained``.
"""

from __future__ import annotations

from collections.abc import Iterable

SPECIAL_TOKENS = {"pad": "<pad>", "unk": "<unk>", "bos": "<s>", "eos": "</s>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000, model_max_length: int = 32):
    """A lower-casing byte-level BPE tokenizer that adds ``<s> ... </s>`` around each text.

    Returns a ``transformers.PreTrainedTokenizerFast``. The end-of-text token comes last
    in every sequence, which is where CLIP's text tower pools.

    Example:
        >>> tok = train_tokenizer(["a red ball", "a blue key"], vocab_size=300)
        >>> tok.convert_ids_to_tokens(tok("a red ball")["input_ids"])[0]
        '<s>'
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 64:
        raise ValueError(f"vocab_size must be >= 64, got vocab_size={vocab_size}")
    tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk"]))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    specials = list(SPECIAL_TOKENS.values())
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos, eos = SPECIAL_TOKENS["bos"], SPECIAL_TOKENS["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} $B {eos}",
        special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        unk_token=SPECIAL_TOKENS["unk"],
        pad_token=SPECIAL_TOKENS["pad"],
        model_max_length=model_max_length,
    )
