"""Tiny GPT-NeoX, GPT-2 and BERT models with local tokenizers, saved with ``save_pretrained``.

No hub access: configs are built here (2 layers, hidden 32, 4 heads, intermediate 64) and the
tokenizer is a WordPiece vocabulary over the words of an embedded text plus single characters,
so any lower-case ASCII sentence tokenizes (unknown words fall back to characters). With
``byte_level=True`` GPT-style models get a byte-level BPE trained on the same text instead (like
GPT-2/Pythia: a leading space belongs to the next token, so " cat" and "cat" differ). Everything
is deterministic: same family and seed, same files.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordPiece
from tokenizers.processors import ByteLevel, TemplateProcessing
from tokenizers.trainers import BpeTrainer
from transformers import AutoModel, BertConfig, GPT2Config, GPTNeoXConfig, PreTrainedTokenizerFast

FAMILIES = ("gpt_neox", "gpt2", "bert")
HIDDEN, LAYERS, HEADS, INTERMEDIATE, CONTEXT = 32, 2, 4, 64, 128

TEXT = """
the a an and or but of in on at to from with by for about as into over under near after before
is are was were be been has have had do does did can could will would may might must should
dog cat horse cow pig sheep bird fish animal pet puppy kitten paw tail fur wing feather beak
car bus train boat ship plane bicycle truck vehicle road river sea lake shore beach mountain
tree flower plant grass leaf forest garden park field farm house home city town village street
water fire earth air sun moon star sky cloud rain snow wind storm weather summer winter spring
red blue green yellow black white brown big small tall short old young new fast slow happy sad
run ran walk walked swim swam fly flew eat ate sleep slept play played sing sang read wrote
man woman child boy girl friend family mother father teacher doctor king queen people person
food bread apple orange milk coffee tea cake meat soup dinner lunch breakfast kitchen table
book music song picture paint color light dark night day morning evening time year week hour
school church market shop office room door window wall floor bed chair street bridge tower
often always never sometimes very quite many much some every each other another this that
it he she they we you i his her their our its them him us who which what where when why how
waited rested moved appeared stayed number one two three four five six seven eight nine ten
""".split()
CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()"
GPT_SPECIALS = {"unk_token": "<unk>", "eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}
BERT_SPECIALS = {
    "unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]",
}


def _vocabulary(specials: list[str]) -> dict[str, int]:
    """Special tokens, then the text's words (sorted), then characters alone and as '##' suffixes."""
    tokens = list(dict.fromkeys(specials))
    tokens += sorted(set(TEXT) - set(tokens))
    tokens += [c for c in CHARACTERS if c not in tokens]
    tokens += [f"##{c}" for c in CHARACTERS]
    return {token: index for index, token in enumerate(tokens)}


def build_byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2 style, no lower-casing) trained on the text, 600 tokens; no pad token."""
    backend = Tokenizer(BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = ByteLevel(trim_offsets=True)
    trainer = BpeTrainer(vocab_size=600, special_tokens=[GPT_SPECIALS["eos_token"]], show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator([" ".join(TEXT)] * 3, trainer=trainer)
    specials = {"eos_token": GPT_SPECIALS["eos_token"], "bos_token": GPT_SPECIALS["bos_token"]}
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_input_names=["input_ids", "attention_mask"],
                                   **specials)


def build_tokenizer(family: str, byte_level: bool = False) -> PreTrainedTokenizerFast:
    """A lower-casing WordPiece tokenizer; BERT's wraps sentences in [CLS] ... [SEP].

    GPT-style tokenizers have no pad token, like Pythia's: ``load_model`` pads with eos.
    ``byte_level``: a GPT-style byte-level BPE instead (build_byte_level_tokenizer).
    """
    if byte_level:
        if family == "bert":
            raise ValueError("byte_level tokenizers are for GPT-style families")
        return build_byte_level_tokenizer()
    specials = BERT_SPECIALS if family == "bert" else GPT_SPECIALS
    vocab = _vocabulary(list(specials.values()))
    backend = Tokenizer(WordPiece(vocab, unk_token=specials["unk_token"], max_input_chars_per_word=100))
    backend.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    if family == "bert":
        backend.post_processor = TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
        return PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, model_input_names=["input_ids", "attention_mask"], **specials
    )


def tiny_config(family: str, tokenizer: PreTrainedTokenizerFast):
    """The tiny architecture of ``family`` sized to ``tokenizer``'s vocabulary."""
    vocab = len(tokenizer)
    if family == "gpt_neox":
        eos = tokenizer.eos_token_id
        return GPTNeoXConfig(
            vocab_size=vocab, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            intermediate_size=INTERMEDIATE, max_position_embeddings=CONTEXT, bos_token_id=eos, eos_token_id=eos,
        )
    if family == "gpt2":
        eos = tokenizer.eos_token_id
        return GPT2Config(
            vocab_size=vocab, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_inner=INTERMEDIATE,
            n_positions=CONTEXT, bos_token_id=eos, eos_token_id=eos,
        )
    if family == "bert":
        return BertConfig(
            vocab_size=vocab, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            intermediate_size=INTERMEDIATE, max_position_embeddings=CONTEXT, pad_token_id=tokenizer.pad_token_id,
        )
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def build_tiny_model(family: str, path: str | Path, seed: int = 0, byte_level: bool = False) -> Path:
    """Write a tiny random ``family`` model (weights drawn under ``seed``) and its tokenizer to ``path``
    (``byte_level``: a byte-level BPE tokenizer, GPT-style families only)."""
    path = Path(path)
    tokenizer = build_tokenizer(family, byte_level)
    config = tiny_config(family, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_checkpoints(
    family: str, root: str | Path, names: tuple[str, ...] = ("step1", "step2"), seed: int = 0
) -> Path:
    """Write one tiny model per checkpoint name under ``root/<name>/`` (seeds seed, seed+1, ...)."""
    root = Path(root)
    for offset, name in enumerate(names):
        build_tiny_model(family, root / name, seed=seed + offset)
    return root
