"""The model: replications of a scenario, as arrays, with no I/O.

Layout: :mod:`inputs` compiles a scenario into arrays; :mod:`population` holds the trusts
and their quarterly dynamics; :mod:`segmentation` holds the segmentation rules;
:mod:`programme` holds the programme's state and event handlers, with its
:mod:`waiting_list`, and shares out support with the pure functions of :mod:`rationing`;
:mod:`timeline` turns the programme's state log into figures for any periods;
:mod:`events` is each replication's event calendar; :mod:`replication` wires them together,
runs a batch of replications (their populations stepped together) and returns the results. Nothing
here imports from the layers above (results, experiment, analysis, outputs, apps).
"""

from sim.model.replication import (
    ModelInputs,
    ReplicationResult,
    compile_scenario,
    run_replication,
    run_replications,
)

__all__ = [
    "ModelInputs",
    "ReplicationResult",
    "compile_scenario",
    "run_replication",
    "run_replications",
]
