"""Draw one figure (PDF + PNG) from its result table; which one is given by the rule's name."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign import plots  # noqa: E402

rule, params, wc = snakemake.rule, snakemake.params, snakemake.wildcards
paths = [snakemake.output.pdf, snakemake.output.png]
table = pd.read_csv(snakemake.input.table)
order = params.checkpoint_order
resampling = dict(n_resamples=params.stats["bootstrap_resamples"], seed=params.stats["seed"])


def layer_view(view: str) -> dict:
    """'overview' -> Fig. 7 (a) and (b) at the lowest tau; 'attention_tau0.9' -> attention by depth at 0.9."""
    block, _, tau = view.partition("_tau")
    return dict(block=None if block == "overview" else block, tau=float(tau) if tau else min(table["tau"]))


if rule == "fig1_stability":
    plots.plot_stability(table, *paths, score=params.score, diversity=pd.read_csv(snakemake.input.diversity),
                         **resampling)
elif rule == "fig2_alignment":
    plots.plot_alignment(table, order, paths, lexical=pd.read_csv(snakemake.input.lexical), score=params.score)
elif rule == "fig3_embedding_baseline":
    plots.plot_embedding_baseline(table, pd.read_csv(snakemake.input.alignment), order, paths, score=params.score)
elif rule == "fig4_hierarchy_heatmap":
    plots.plot_hierarchy_heatmap(
        table, wc.model, wc.checkpoint, paths, domains=params.hierarchy, score=params.score, tau=min(table["tau"])
    )
elif rule == "fig5_expert_counts":
    plots.plot_expert_counts(table, order, paths, score=params.score, **resampling)
elif rule == "fig6_checkpoint_stability":
    plots.plot_checkpoint_stability(table, order, paths, score=params.score, **resampling)
elif rule == "fig7_layer_distribution":
    plots.plot_layer_distribution(table, wc.model, order, paths, score=params.score, **layer_view(wc.view))
elif rule == "appF_sublayer_distribution":
    plots.plot_sublayer_distribution(table, wc.model, order, paths, score=params.score, tau=min(table["tau"]))
elif rule == "fig8_cosine_variants":
    plots.plot_cosine_variants(table, order, paths, score=params.score)
else:
    raise ValueError(f"figure.py has no drawing for rule {rule}")
