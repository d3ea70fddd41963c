"""The model: one replication of one scenario, as arrays, with no I/O.

Layout: :mod:`inputs` compiles a scenario into arrays; :mod:`population` holds the trusts
and their quarterly dynamics; :mod:`segmentation` holds the segmentation rules;
:mod:`replication` wires them into a simpy environment and returns the results.
"""

from sim.model.replication import (
    ModelInputs,
    ReplicationResult,
    compile_scenario,
    run_replication,
)

__all__ = ["ModelInputs", "ReplicationResult", "compile_scenario", "run_replication"]
