"""Write the unit table of a model: one row per output channel of the selected modules."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.models import load_architecture, select_modules, unit_table  # noqa: E402
from expertalign.workflow import write_parquet  # noqa: E402

spec = snakemake.params.spec
model = load_architecture(spec["source"], "init")  # meta device: shapes only, no weights
modules = select_modules(model, spec["family"], spec["layers"])
write_parquet(unit_table(model, modules), snakemake.output.units)
