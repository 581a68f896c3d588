#!/usr/bin/env bash
# Mutation testing of the stages, the sink, the warehouse rows, reconcile and the feeder: mutmut 3.8.1, installed
# into the test venv on its own (pip install mutmut==3.8.1: not an extra, because it needs click>=8.4.2 and
# faust-streaming pins click<8.4, so pip reports that conflict), configured in pyproject.toml [tool.mutmut]
# (which modules are mutated; only fast unit tests, never the integration tests, run against a mutant).
#
# NOT part of CI: every mutant (~5900) takes hours on a shared 2-core machine. Verdicts are kept in mutants/
# (git-ignored), so a second run tests only mutants without a verdict (name mutants to re-test them).
#
#   benchmarks/mutation.sh                              # every mutant in scope
#   MUTATION_SAMPLE=0.25 benchmarks/mutation.sh         # the same hash-chosen quarter of every module (RESULTS.md)
#   benchmarks/mutation.sh "streams.ops.reconcile.*"    # one module (mutmut's mutant-name globs)
#   MUTATION_CHILDREN=1 MUTATION_TIMEOUT=3600 benchmarks/mutation.sh
#   MUTATION_SAMPLE=0.25 MUTATION_APART="streams/pipeline/stages/entities.py streams/pipeline/stages/stories.py" \
#       benchmarks/mutation.sh     # the sample without modules being rewritten (scored with and without them)
#   MUTATION_SAMPLE=0.25 MUTATION_ONLY="streams/pipeline/stages/entities.py streams/pipeline/stages/stories.py" \
#       benchmarks/mutation.sh     # just those modules' sample, later (MUTATION_APART/ONLY: module path globs)
#
# It ends with the score per module; add --survivors FILE to mutation_report.py for every survivor's changed line.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MUTMUT=$(dirname "$PY")/mutmut
children=${MUTATION_CHILDREN:-2}     # the machine is shared: keep it small
limit=${MUTATION_TIMEOUT:-14400}     # seconds for the whole run
sample=${MUTATION_SAMPLE:-1}
filters=()
read -r -a apart <<< "${MUTATION_APART:-}"     # read -a: split on spaces, globs left unexpanded
read -r -a only <<< "${MUTATION_ONLY:-}"
for glob in ${apart[@]+"${apart[@]}"}; do filters+=(--apart "$glob"); done
for glob in ${only[@]+"${only[@]}"}; do filters+=(--only "$glob"); done
if ! "$PY" -c "import sys; f = float(sys.argv[1]); sys.exit(not 0 < f <= 1)" "$sample" 2>/dev/null; then
    echo "mutation.sh: MUTATION_SAMPLE must be a fraction in (0, 1], not '$sample'" >&2
    exit 2
fi
if [ "$#" -eq 0 ] && { [ "$sample" != "1" ] || [ "${#filters[@]}" -gt 0 ]; }; then
    # Generates every mutant and the test-coverage map, testing only a small function's mutants; then the sample.
    timeout "$limit" "$MUTMUT" run --max-children "$children" "streams.inputs.feeder.config.x_load_sources*"
    # (not `< <(...)`: a glob that matches no module must stop the run here, with the report's message)
    listed=$("$PY" benchmarks/mutation_report.py --sample "$sample" --names ${filters[@]+"${filters[@]}"})
    if [ -n "$listed" ]; then
        mapfile -t names <<< "$listed"
        timeout "$limit" "$MUTMUT" run --max-children "$children" "${names[@]}"
    fi
else
    timeout "$limit" "$MUTMUT" run --max-children "$children" "$@"
fi
"$PY" benchmarks/mutation_report.py --sample "$sample" ${filters[@]+"${filters[@]}"}
