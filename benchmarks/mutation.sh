#!/usr/bin/env bash
# Mutation testing of the stages, the sink, the warehouse rows, reconcile and the feeder (mutmut, pinned in
# pyproject's `test` extra; configured in pyproject.toml [tool.mutmut]). NOT part of CI: a full run is
# ~6000 mutants and takes hours on a 2-core machine. Results go to mutants/ (git-ignored) and are resumable:
# a second run re-tests only mutants without a verdict and those whose function or tests changed.
#
#   benchmarks/mutation.sh                               # every module in scope
#   benchmarks/mutation.sh "streams.ops.reconcile.*"     # one module (mutmut's mutant-name globs)
#   MUTATION_CHILDREN=1 MUTATION_TIMEOUT=3600 benchmarks/mutation.sh
#
# Afterwards: the score per module and the survivors, as quoted in benchmarks/RESULTS.md:
#   .venv/bin/python benchmarks/mutation_report.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MUTMUT=$(dirname "$PY")/mutmut
children=${MUTATION_CHILDREN:-2}     # the machine is shared: keep it small
limit=${MUTATION_TIMEOUT:-14400}     # seconds for the whole run
timeout "$limit" "$MUTMUT" run --max-children "$children" "$@"
"$PY" benchmarks/mutation_report.py
