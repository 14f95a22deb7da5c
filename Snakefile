# expertalign: expert neurons of concepts in language models and their alignment with humans.
# Usage: snakemake --cores all [--configfile config/paper.yaml] [--profile slurm]
import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless --configfile names another (which then replaces it, not merges into it).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/targets.smk"
include: "rules/data.smk"
include: "rules/sentences.smk"
include: "rules/expertise.smk"
include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/intervention.smk"


rule all:
    default_target: True
    input:
        all_targets(),
