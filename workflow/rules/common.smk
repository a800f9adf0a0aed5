from snakemake.utils import validate

# Fails `snakemake -n` with the offending key, its value and the rule it broke; fills defaults.
validate(config, schema="../schemas/config.schema.yaml", set_default=True)

_sim = config["simulation"]
if _sim["k"] > _sim["vocab_size"]:
    raise ValueError(
        f"config simulation.k={_sim['k']} exceeds simulation.vocab_size={_sim['vocab_size']}: K must be in [1, V]"
    )
