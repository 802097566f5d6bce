#!/usr/bin/env bash
# Runs the harness self-test binary under mpiexec with its planted failure enabled and checks that
# rank 0 (the only rank that prints the report) reports the failure that happened on the last rank,
# and that the job fails. Usage: harness_selftest.sh <binary> <ranks> <mpiexec command...>
set -uo pipefail
binary=$1 ranks=$2
shift 2
out=$(timeout 120 "$@" -n "$ranks" "$binary" --gtest_also_run_disabled_tests --gtest_color=no 2>&1)
code=$?
last=$((ranks - 1))
status=0
[[ $code == 1 ]] || { echo "FAIL: exit code $code, expected 1"; status=1; }
grep -qF "[  FAILED  ] HarnessSelfTest.DISABLED_FailsOnlyOnTheLastRank" <<<"$out" ||
  { echo "FAIL: rank 0's report does not list the failed test"; status=1; }
if ((ranks > 1)); then
  grep -qF "the test failed on rank $last" <<<"$out" || { echo "FAIL: rank 0 does not name rank $last"; status=1; }
  grep -qF "[rank $last]" <<<"$out" || { echo "FAIL: rank $last did not print its own failure"; status=1; }
fi
grep -qF "[       OK ] HarnessSelfTest.PassesOnEveryRank" <<<"$out" || { echo "FAIL: the passing test is not reported"; status=1; }
[[ $(grep -c "PassesOnEveryRank (" <<<"$out") == 1 ]] || { echo "FAIL: the report is printed by more than one rank"; status=1; }
((status == 0)) || { echo "--- output ---"; echo "$out"; }
exit $status
