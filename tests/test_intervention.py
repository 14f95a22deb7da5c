"""The causal check: clamping hooks, next-word log-probabilities, seeded sampling and control draws on
tiny random GPT-NeoX and GPT-2 causal LMs, a synthetic unit that drives one token, the figure, and
the intervention jobs in the paper DAG."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from expertalign import intervention as iv
from expertalign import plots, stats
from expertalign.models import ModelLoadError, NotACausalLM, load_causal_lm, module_widths, select_modules
from expertalign.sources import is_causal_lm
from expertalign.responses import recording_hooks
from tiny_models import build_tiny_model, build_tokenizer, tiny_config

FAMILIES = ("gpt_neox", "gpt2")
PROMPTS = ["i saw the", "this is about"]
POSITIVES = ["the cat sat near the tree.", "a cat ran to the park.", "my cat slept."]


def save_tiny_lm(family: str, path, seed: int = 0):
    """A tiny random causal LM (with its LM head) and tokenizer saved at ``path``."""
    tokenizer = build_tokenizer(family)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(tiny_config(family, tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_lm(request, tmp_path_factory):
    """(family, lm, tokenizer, unit module names) of a tiny causal LM of each family."""
    path = save_tiny_lm(request.param, tmp_path_factory.mktemp(request.param) / "lm")
    lm, tokenizer = load_causal_lm(str(path), device="cpu")
    return request.param, lm, tokenizer, select_modules(lm.base_model, request.param)


def logits(lm, tokenizer, text="the dog ran near the river"):
    with torch.inference_mode():
        return lm(**tokenizer(text, return_tensors="pt")).logits


def module_outputs(lm, tokenizer, names, text="the dog ran near the river"):
    """Each named module's output [1, seq, channels] seen after every other hook."""
    seen = {}
    with recording_hooks(lm.base_model, names, lambda i, out: seen.__setitem__(names[i], out.clone())):
        logits(lm, tokenizer, text)
    return seen


def unit_offsets(lm, names):
    return np.concatenate([[0], np.cumsum(module_widths(lm.base_model, names))])


def test_clamping_changes_exactly_the_chosen_channels(tiny_lm):
    _, lm, tokenizer, names = tiny_lm
    offsets = unit_offsets(lm, names)
    target = 2  # layer 0's first MLP module: layer 0's attention (before it) must not change at all
    channels = np.array([0, 5, 7])
    values = np.array([3.0, -2.0, 11.0], dtype=np.float32)
    before = module_outputs(lm, tokenizer, names)
    with iv.clamped_units(lm.base_model, names, offsets[target] + channels, values):
        after = module_outputs(lm, tokenizer, names)
    for name in names[:target]:
        assert torch.equal(before[name], after[name]), name
    clamped, original = after[names[target]], before[names[target]]
    assert torch.equal(clamped[..., channels], torch.tensor(values).expand(*clamped.shape[:2], 3))
    others = np.setdiff1d(np.arange(clamped.shape[-1]), channels)
    assert torch.equal(clamped[..., others], original[..., others])
    for name in names[len(names) // 2:]:  # every module of layer 1 reads the clamped MLP's output
        assert not torch.equal(after[name], before[name]), name


def test_hooks_are_removed_afterwards_even_on_error(tiny_lm):
    _, lm, tokenizer, names = tiny_lm
    reference = logits(lm, tokenizer)
    with pytest.raises(RuntimeError, match="inside"):
        with iv.clamped_units(lm.base_model, names, [1, 2, 300], [5.0, 5.0, 5.0]):
            assert sum(len(m._forward_hooks) for m in lm.modules()) > 0
            raise RuntimeError("inside")
    assert sum(len(m._forward_hooks) for m in lm.modules()) == 0
    assert torch.equal(logits(lm, tokenizer), reference)


def test_k0_reproduces_the_unmodified_logits(tiny_lm):
    _, lm, tokenizer, names = tiny_lm
    reference = logits(lm, tokenizer)
    with iv.clamped_units(lm.base_model, names, [], []):
        assert sum(len(m._forward_hooks) for m in lm.modules()) == 0
        assert torch.equal(logits(lm, tokenizer), reference)


def test_bad_units_are_refused(tiny_lm):
    _, lm, _, names = tiny_lm
    n_units = unit_offsets(lm, names)[-1]
    with pytest.raises(ValueError, match="distinct"):
        with iv.clamped_units(lm.base_model, names, [1, 1], [0.0, 0.0]):
            pass
    with pytest.raises(ValueError, match="must lie in"):
        with iv.clamped_units(lm.base_model, names, [n_units], [0.0]):
            pass


def test_logprob_of_a_word_matches_the_next_token_distribution(tiny_lm):
    _, lm, tokenizer, _ = tiny_lm
    cat, dog = (tokenizer.convert_tokens_to_ids(w) for w in ("cat", "dog"))
    expected = torch.log_softmax(logits(lm, tokenizer, "i saw the")[0, -1].double(), dim=-1)
    measured = iv.continuation_logprobs(lm, tokenizer, ["i saw the", "this is about"], ["cat", "dog"])
    assert measured[0] == pytest.approx(torch.logsumexp(expected[[cat, dog]], 0).item(), abs=1e-5)
    # "cats" is cat + ##s: already counted by "cat", so adding it changes nothing
    again = iv.continuation_logprobs(lm, tokenizer, ["i saw the", "this is about"], ["cat", "cats", "dog"])
    np.testing.assert_allclose(again, measured, atol=1e-6)


def test_multi_token_word_sums_its_tokens_log_probabilities(tiny_lm):
    _, lm, tokenizer, _ = tiny_lm
    [sequence] = iv.word_continuations(tokenizer, "i saw the", ["zebu"])  # not in the vocabulary: characters
    assert len(sequence) == 4
    ids = tokenizer("i saw the")["input_ids"] + list(sequence)
    with torch.inference_mode():
        logp = torch.log_softmax(lm(torch.tensor([ids])).logits[0].double(), dim=-1)
    start = len(ids) - len(sequence)
    expected = sum(logp[start - 1 + i, token].item() for i, token in enumerate(sequence))
    assert iv.continuation_logprobs(lm, tokenizer, ["i saw the"], ["zebu"])[0] == pytest.approx(expected, abs=1e-5)


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(tiny_lm):
    _, lm, tokenizer, _ = tiny_lm
    torch.manual_seed(123)
    state = torch.get_rng_state()
    run = dict(word="the", pos="n", n_samples=8, max_new_tokens=6)
    first = iv.generated_shares(lm, tokenizer, PROMPTS, seed=1, **run)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(iv.generated_shares(lm, tokenizer, PROMPTS, seed=1, **run), first)
    assert first.shape == (2,) and ((first >= 0) & (first <= 1)).all()


def test_concept_intervention_is_reproducible_with_zero_gain_at_k0(tiny_lm):
    _, lm, tokenizer, names = tiny_lm
    n_units = unit_offsets(lm, names)[-1]
    scores = np.random.default_rng(0).random(n_units)
    settings = dict(ks=[0, 4, 16], control_seeds=2, prompts=PROMPTS, n_samples=3, max_new_tokens=4, seed=0)
    table = iv.concept_intervention(lm, tokenizer, names, "cat-n", scores, POSITIVES, **settings)
    pd.testing.assert_frame_equal(table, iv.concept_intervention(lm, tokenizer, names, "cat-n", scores, POSITIVES,
                                                                 **settings))
    assert len(table) == 3 * (1 + 2) * len(PROMPTS)
    base = table[table["k"] == 0]
    assert (base["gain"] == 0).all() and (base["share_gain"] == 0).all()
    np.testing.assert_allclose(base["logprob"].to_numpy()[: len(PROMPTS)],
                               iv.continuation_logprobs(lm, tokenizer, PROMPTS, sorted(iv.inflections("cat", "n"))))
    random16 = table[(table["k"] == 16) & (table["condition"] == "random")]
    assert random16.groupby("seed")["logprob"].first().nunique() == 2  # two different control draws


def test_control_draws_are_seeded_distinct_and_avoid_the_experts():
    scores = np.linspace(0, 1, 100)
    draws = list(iv._conditions(scores, [10], 3, [0, 1]))
    again = list(iv._conditions(scores, [10], 3, [0, 1]))
    experts = [u for k, c, _, u in draws if k == 10 and c == "experts"][0]
    np.testing.assert_array_equal(experts, np.arange(99, 89, -1))
    controls = [u for k, c, _, u in draws if k == 10 and c == "random"]
    assert len(controls) == 3 and len({tuple(sorted(u)) for u in controls}) == 3
    for units, repeat in zip(controls, [u for k, c, _, u in again if k == 10 and c == "random"]):
        np.testing.assert_array_equal(units, repeat)
        assert not set(units) & set(experts) and len(set(units)) == 10
    with pytest.raises(ValueError, match="intervention.ks"):
        list(iv._conditions(scores, [60], 1, [0]))


def driven_neox(tmp_path):
    """A tiny GPT-NeoX where one unit (layer 1, mlp.dense_h_to_4h channel 0) fires on "cat" (and is off otherwise) and alone
    drives the "cat" logit: residual dim 0 carries only the "cat" embedding, the unit reads it, writes
    it back, and the LM head reads "cat" from it."""
    path = save_tiny_lm("gpt_neox", tmp_path / "driven")
    lm, tokenizer = load_causal_lm(str(path), device="cpu")
    cat = tokenizer.convert_tokens_to_ids("cat")
    block = lm.base_model.layers[1].mlp
    with torch.no_grad():
        lm.base_model.embed_in.weight *= 25  # a residual stream of unit scale: small side effects stay small
        lm.base_model.embed_in.weight[:, 0] = 0.0
        lm.base_model.embed_in.weight[cat, 0] = 25.0
        block.dense_h_to_4h.weight[0] = 0.0
        block.dense_h_to_4h.weight[0, 0] = 4.0
        block.dense_h_to_4h.bias[0] = -8.0  # off (GELU ~ 0) unless "cat" is in the input
        block.dense_4h_to_h.weight[:, 0] = 0.0
        block.dense_4h_to_h.weight[0, 0] = 2.0
        assert lm.get_output_embeddings().weight is not lm.base_model.embed_in.weight
        lm.get_output_embeddings().weight[cat] = 0.0
        lm.get_output_embeddings().weight[cat, 0] = 3.0
    names = select_modules(lm.base_model, "gpt_neox")
    unit = int(unit_offsets(lm, names)[names.index("layers.1.mlp.dense_h_to_4h")])
    return lm, tokenizer, names, unit


def test_a_unit_that_drives_a_token_shows_a_gain_for_experts_and_none_for_the_control(tmp_path):
    lm, tokenizer, names, unit = driven_neox(tmp_path)
    scores = np.random.default_rng(0).random(unit_offsets(lm, names)[-1]) * 0.5
    scores[unit] = 1.0
    table = iv.concept_intervention(lm, tokenizer, names, "cat-n", scores, POSITIVES, ks=[0, 1], control_seeds=5,
                                    prompts=["i saw the", "this is about", "today we"], n_samples=0,
                                    max_new_tokens=1, seed=0)
    gain = table[table["k"] == 1].groupby("condition")["gain"]
    assert gain.min()["experts"] > 2.0  # nats: the clamped unit makes "cat" far likelier after every prompt
    assert gain.apply(lambda g: g.abs().max())["random"] < 0.2
    assert table["generated_share"].isna().all()  # n_samples = 0: no sampling


def test_intervention_table_has_the_tidy_columns(tiny_lm):
    _, lm, tokenizer, names = tiny_lm
    n_units = unit_offsets(lm, names)[-1]
    scores = np.random.default_rng(1).random((2, n_units))
    table = iv.intervention_table(
        lm, tokenizer, names, ["cat-n", "run-v"], scores, {"cat-n": POSITIVES, "run-v": ["he ran home."]},
        {"cat-n": "animal"}, model="tiny", checkpoint="final", progress=False,
        ks=[2], control_seeds=1, prompts=PROMPTS, n_samples=2, max_new_tokens=3, seed=0,
    )
    assert list(table.columns) == iv.TABLE_COLUMNS
    assert dict(table.groupby("concept")["group"].first()) == {"cat-n": "animal", "run-v": "other"}
    assert set(table["k"]) == {0, 2} and set(table["condition"]) == set(iv.CONDITIONS)
    with pytest.raises(ValueError, match="ends in whitespace"):
        iv.intervention_table(lm, tokenizer, names, ["cat-n"], scores[:1], {"cat-n": POSITIVES}, {}, model="tiny",
                              checkpoint="final", ks=[2], control_seeds=1, prompts=["i saw the "], n_samples=0,
                              max_new_tokens=1, seed=0)


def test_positives_and_scores_are_looked_up_by_concept():
    pool = pd.DataFrame(dict(sentence_id=[0, 1, 2], concept=["a-n", "a-n", "b-n"], sentence=["x", "y", "z"]))
    fold = {"positives": {"a-n": [1, 0], "b-n": [2]}}
    assert iv.positive_sentences(pool, fold, ["a-n"]) == {"a-n": ["y", "x"]}
    with pytest.raises(ValueError, match="c-n"):
        iv.positive_sentences(pool, fold, ["c-n"])
    scores = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(iv.concept_scores(["a", "b", "c"], scores, ["c", "a"]), scores[[2, 0]])
    with pytest.raises(ValueError, match="'d'"):
        iv.concept_scores(["a"], scores[:1], ["d"])


def test_causal_lm_loading_refuses_encoders_and_headless_weights(tmp_path):
    bert = build_tiny_model("bert", tmp_path / "bert")
    headless = build_tiny_model("gpt_neox", tmp_path / "headless")
    assert not is_causal_lm(str(bert)) and is_causal_lm(str(headless))
    assert is_causal_lm("any/hub-id", "gpt2") and not is_causal_lm("any/hub-id", "bert")
    with pytest.raises(NotACausalLM, match="encoder"):
        load_causal_lm(str(bert), device="cpu")
    with pytest.raises(ModelLoadError, match="lacks LM head"):
        load_causal_lm(str(headless), device="cpu")


def test_init_checkpoint_base_weights_match_extraction(tmp_path):
    from expertalign.models import load_model

    path = save_tiny_lm("gpt2", tmp_path / "lm")
    base, _ = load_model(str(path), "init", device="cpu", init_seed=3)
    lm, _ = load_causal_lm(str(path), "init", device="cpu", init_seed=3)
    for (name, a), b in zip(base.state_dict().items(), lm.base_model.state_dict().values()):
        assert torch.equal(a, b), name


def test_figure_plots_the_mean_gain_with_its_ci(tmp_path):
    rng = np.random.default_rng(0)
    rows = [dict(model="m", checkpoint="c", concept=f"x{i}-n", group=g, k=k, condition=cond, seed=s, prompt=p,
                 logprob=0.0, gain=0.0 if k == 0 else rng.normal(k / 10 if cond == "experts" else 0, 0.1),
                 generated_share=0.0, share_gain=0.0)
            for i, g in enumerate(["animal", "vehicle"]) for k in (0, 10) for cond in iv.CONDITIONS
            for s in range(2 if cond == "random" else 1) for p in PROMPTS]
    table = pd.DataFrame(rows)
    paths = [tmp_path / "f.pdf", tmp_path / "f.png"]
    data = plots.plot_intervention(table, "m", "c", paths, n_resamples=50, seed=0)
    assert paths[0].read_bytes()[:4] == b"%PDF" and paths[1].read_bytes()[:4] == b"\x89PNG"
    expected = stats.mean_ci_table(table, ["condition", "k"], "gain", n_resamples=50, seed=0)
    every = data[(data["measure"] == "gain") & (data["group"] == "all concepts")].reset_index(drop=True)
    np.testing.assert_allclose(every[["mean", "ci_low", "ci_high"]], expected[["mean", "ci_low", "ci_high"]])
    assert set(data["group"]) == {"all concepts", "animal", "vehicle"}
    empty = plots.plot_intervention(iv.empty_table(), "m", "c", paths, n_resamples=50, seed=0)
    assert empty.empty and paths[1].stat().st_size > 0


@pytest.mark.slow
def test_paper_dag_has_one_intervention_job_per_causal_checkpoint(tmp_path, men_dir):
    from test_workflow import planned_jobs
    from workflow_fixtures import REPO, run_snakemake

    result = run_snakemake(tmp_path, REPO / "config" / "paper.yaml", "-n", timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = planned_jobs(result)
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    checkpoints = sum(len(m["checkpoints"]) for m in paper["models"].values())
    assert jobs["intervention"] == checkpoints
    assert jobs["fig9_intervention"] == checkpoints and jobs["intervention_table"] == 1


@pytest.mark.slow
def test_tiny_dag_skips_the_encoder(tmp_path, men_dir):
    from test_workflow import planned_jobs
    from workflow_fixtures import run_snakemake, tiny_config

    config = tiny_config(tmp_path / "inputs", men_dir)
    changed = yaml.safe_load(config.read_text())
    changed["intervention"] = {"enabled": True, "ks": [0, 2], "concepts": ["cat-n", "bus-n"]}
    config.write_text(yaml.safe_dump(changed))
    result = run_snakemake(tmp_path / "work", config, "-n")
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = planned_jobs(result)
    assert jobs["intervention"] == 2 and jobs["fig9_intervention"] == 2  # tiny-gptneox step1, step2; not tiny-bert
    assert "skipping tiny-bert, an encoder-only model" in result.stderr
    changed["intervention"]["concepts"] = ["unicorn-n"]
    config.write_text(yaml.safe_dump(changed))
    refused = run_snakemake(tmp_path / "work", config, "-n")
    assert refused.returncode != 0 and "intervention.concepts" in refused.stdout + refused.stderr


@pytest.mark.slow
def test_workflow_writes_the_intervention_table_and_figure(tmp_path, men_dir):
    from workflow_fixtures import run_snakemake, tiny_config

    config = tiny_config(tmp_path / "inputs", men_dir)
    changed = yaml.safe_load(config.read_text())
    causal = save_tiny_lm("gpt2", tmp_path / "inputs" / "models" / "gpt2-lm" / "step1")
    changed["models"] = {
        "tiny-gpt2": {"source": str(causal.parent), "family": "gpt2", "checkpoints": ["step1"], "batch_size": 16},
        "tiny-bert": changed["models"]["tiny-bert"] | {"checkpoints": ["step1"]},
    }
    changed["pilot"]["enabled"] = False
    changed["intervention"] = {"enabled": True, "ks": [0, 3], "control_seeds": 2, "concepts": ["cat-n", "bus-n"],
                               "prompts": PROMPTS, "n_samples": 2, "max_new_tokens": 3}
    config.write_text(yaml.safe_dump(changed))
    work = tmp_path / "work"
    targets = ["results/tables/intervention.csv", "results/figures/intervention/fig9_intervention_tiny-gpt2_step1.png",
               "results/intervention/tiny-bert/step1.csv"]
    result = run_snakemake(work, config, "--cores", "2", *targets)
    assert result.returncode == 0, result.stderr[-6000:]
    table = pd.read_csv(work / targets[0])
    assert list(table.columns) == iv.TABLE_COLUMNS
    assert len(table) == 2 * 2 * (1 + 2) * len(PROMPTS)  # concepts x ks x (experts + control seeds) x prompts
    assert set(table["model"]) == {"tiny-gpt2"} and (table.loc[table["k"] == 0, "gain"] == 0).all()
    assert dict(table.groupby("concept")["group"].first()) == {"bus-n": "vehicle", "cat-n": "animal"}
    assert (work / targets[1]).read_bytes()[:4] == b"\x89PNG"
    assert pd.read_csv(work / targets[2]).empty  # the encoder: an empty table, and why in its log
    assert "encoder" in (work / "logs/intervention/tiny-bert/step1.log").read_text()


def test_left_padded_prompts_get_the_same_next_token_scores_as_alone(tiny_lm):
    """generated_shares samples all prompts in one left-padded batch: padding must not move positions."""
    _, lm, tokenizer, _ = tiny_lm
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    batch = tokenizer(["it", "the dog ran near the"], return_tensors="pt", padding=True)
    tokenizer.padding_side = side
    run = dict(do_sample=False, max_new_tokens=3, output_scores=True, return_dict_in_generate=True,
               pad_token_id=tokenizer.pad_token_id)
    together = lm.generate(**batch, **run).scores
    alone = lm.generate(**tokenizer(["it"], return_tensors="pt"), **run).scores
    for a, b in zip(together, alone):
        torch.testing.assert_close(a[:1], b)
