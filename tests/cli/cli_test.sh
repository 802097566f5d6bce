#!/usr/bin/env bash
# End-to-end checks of the omniseg executable under mpiexec.
# Usage: cli_test.sh <case> <omniseg binary> <ranks> <mpiexec command...>
#   basics  — help, version, usage errors (exit code 2), output printed once under mpiexec
#   doctor  — `omniseg doctor` passes and prints one JSON line
#   failure — a failure on one rank ends every rank with the same message and exit code
#   stuck   — a failure while the other ranks wait in a collective ends the job (no hang)
set -uo pipefail
case_name=$1 omniseg=$2 ranks=$3
shift 3
mpiexec=("$@" -n "$ranks")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# run <name> <command...>: stdout, stderr and exit code into $work/<name>.{out,err,code}
run() {
  local name=$1
  shift
  timeout 120 "$@" >"$work/$name.out" 2>"$work/$name.err"
  echo $? >"$work/$name.code"
}
code() { cat "$work/$1.code"; }
expect_code() { [[ $(code "$1") == "$2" ]] || fail "$1: exit code $(code "$1"), expected $2; stderr: $(head -c 2000 "$work/$1.err")"; }
expect_in() { grep -qF -- "$3" "$work/$1.$2" || fail "$1: '$3' not in $2: $(head -c 2000 "$work/$1.$2")"; }
count_in() { grep -cF -- "$3" "$work/$1.$2"; }

case $case_name in
basics)
  run help "$omniseg" --help
  expect_code help 0
  expect_in help out "doctor"
  expect_in help out "--log-level"

  run version "$omniseg" --version
  expect_code version 0
  grep -qE '^omniseg [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]{12,}(-dirty)?|unknown)\)$' "$work/version.out" ||
    fail "version: unexpected output '$(cat "$work/version.out")'"
  # Built from a git checkout with commits: the sha is the commit's.
  if head=$(git -C "$(dirname "$0")" rev-parse --short=12 HEAD 2>/dev/null); then
    expect_in version out "(git $head"
  fi

  run version_mpi "${mpiexec[@]}" "$omniseg" --version
  expect_code version_mpi 0
  [[ $(wc -l <"$work/version_mpi.out") == 1 ]] || fail "version under mpiexec -n $ranks: printed $(wc -l <"$work/version_mpi.out") lines, expected 1"

  run unknown_option "${mpiexec[@]}" "$omniseg" --no-such-option doctor
  expect_code unknown_option 2
  expect_in unknown_option err "--no-such-option"
  [[ $(count_in unknown_option err "--no-such-option") == 1 ]] || fail "unknown option: message not printed exactly once"

  run unknown_command "$omniseg" frobnicate
  expect_code unknown_command 2
  expect_in unknown_command err "frobnicate"

  run no_command "$omniseg"
  expect_code no_command 2
  expect_in no_command err "a subcommand is required: doctor"

  run bad_level "$omniseg" --log-level loud doctor
  expect_code bad_level 2
  expect_in bad_level err "unknown log level 'loud'"

  run bad_value "$omniseg" doctor --fail-mode sideways
  expect_code bad_value 2
  expect_in bad_value err "sideways"
  ;;
doctor)
  run doctor "${mpiexec[@]}" "$omniseg" doctor --random-rows 50000 --alltoall-bytes 262144 --repetitions 3
  expect_code doctor 0
  [[ $(wc -l <"$work/doctor.out") == 1 ]] || fail "doctor: stdout is not exactly one JSON line"
  expect_in doctor out '"passed":true'
  expect_in doctor out "\"ranks\":$ranks"
  expect_in doctor err "check collectives_in_pieces"
  [[ $(count_in doctor err "check collectives ") == 1 ]] || fail "doctor: report printed by more than one rank"
  ;;
failure)
  last=$((ranks - 1))
  run failure "${mpiexec[@]}" "$omniseg" doctor --fail-on-rank "$last"
  expect_code failure 1
  message="rank $last failed: deliberate failure on rank $last (--fail-on-rank, mode agreed)"
  expect_in failure err "$message"
  [[ $(count_in failure err "$message") == 1 ]] || fail "failure: message printed $(count_in failure err "$message") times, expected once"

  run all_ranks "${mpiexec[@]}" "$omniseg" --log-all-ranks doctor --fail-on-rank "$last"
  expect_code all_ranks 1
  [[ $(count_in all_ranks err "$message") == "$ranks" ]] ||
    fail "--log-all-ranks: every rank should print the same message; got $(count_in all_ranks err "$message") of $ranks"

  run out_of_range "${mpiexec[@]}" "$omniseg" doctor --fail-on-rank "$ranks"
  expect_code out_of_range 3
  expect_in out_of_range err "the job has only $ranks ranks"
  ;;
stuck)
  last=$((ranks - 1))
  start=$SECONDS
  run stuck "${mpiexec[@]}" "$omniseg" --failure-grace-s 2 doctor --fail-on-rank "$last" --fail-mode stuck
  [[ $(code stuck) != 0 && $(code stuck) != 124 ]] || fail "stuck: exit code $(code stuck) (124 = hung until timeout)"
  expect_in stuck err "rank $last failed: deliberate failure on rank $last (--fail-on-rank, mode stuck)"
  if ((ranks > 1)); then
    expect_in stuck err "aborting the job"
  fi
  echo "stuck: ended after $((SECONDS - start)) s with exit code $(code stuck)"
  ;;
*)
  echo "unknown case $case_name" >&2
  exit 2
  ;;
esac

if ((failures > 0)); then
  echo "$failures check(s) failed in case '$case_name' at $ranks rank(s)" >&2
  exit 1
fi
echo "case '$case_name' at $ranks rank(s): all checks passed"
