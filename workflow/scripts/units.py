"""Write the unit table of a model: one row per output channel of the selected modules."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.models import load_model, select_modules, unit_table  # noqa: E402
from expertalign.workflow import write_parquet  # noqa: E402

spec = snakemake.params.spec
model, _ = load_model(spec["source"], "init", dtype="float32", device="cpu", init_seed=spec["init_seed"])
modules = select_modules(model, spec["family"], spec["layers"])
write_parquet(unit_table(model, modules), snakemake.output.units)
