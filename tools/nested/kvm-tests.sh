#!/bin/sh
# kvm-tests.sh RESULTS [PLAN] — runs the Category=Kvm tests of every self-executing test project against /dev/kvm.
# Meant to run where /dev/kvm works: directly, or inside tools/nested/run-in-kvm.sh.
# Without PLAN every project in ACTORVMM_KVM_PROJECTS runs whole and writes RESULTS/PROJECT.kvm.xml. A PLAN file (from
# tools/nested/kvm-stage.sh, resuming after the nested runner froze) has one line per project still to run:
# `PROJECT TAG [METHOD...]`; the project writes RESULTS/PROJECT.kvm.TAG.xml and skips the test methods listed (done).
results=$1
plan=${2:-}
# The test projects that hold Category=Kvm tests (tools/test.sh passes the same list to the summary).
ACTORVMM_KVM_PROJECTS=${ACTORVMM_KVM_PROJECTS:-"Kvm Vmm GuestJournal"}
[ -c /dev/kvm ] || { echo "kvm-tests: no /dev/kvm here" >&2; exit 3; }
rc=0
# run_project PROJECT TAG [METHOD...]
run_project() {
    p=$1 xml=$results/$1.kvm${2:+.$2}.xml
    shift 2
    dll=tests/$p.Tests/bin/Release/net10.0/ActorVmm.$p.Tests.dll
    # A sample (samples/P.Tests) is a user's project: its assembly is P.Tests.
    [ -d "tests/$p.Tests" ] || dll=samples/$p.Tests/bin/Release/net10.0/$p.Tests.dll
    # kvm-stage.sh reads this line in the console log: the test lines after it are this project's.
    echo "kvm-tests: $p" >&2
    skip=
    for m in "$@"; do skip="$skip -method- $m"; done
    # A hung KVM test must fail this stage, not run into CI's time limit: 40 minutes per project at most.
    # The verbose reporter prints each test as it starts and ends (kvm-stage.sh resumes from that log when the nested
    # runner freezes), and -longRunning names a test still running after 5 minutes, so a hang names its test in the log.
    # shellcheck disable=SC2086 # $skip: method names have no spaces
    timeout -k 30 2400 dotnet "$dll" -trait Category=Kvm $skip -noLogo -noColor -parallelMode none -reporter verbose \
        -longRunning 300 -result-xml "$xml" </dev/null || rc=1
    # On the host before the next project starts: a runner that freezes later does not lose these results.
    sync
}
if [ -n "$plan" ]; then
    while read -r line; do
        # shellcheck disable=SC2086 # the plan's words
        [ -z "$line" ] || run_project $line
    done < "$plan"
else
    for p in $ACTORVMM_KVM_PROJECTS; do run_project "$p" ""; done
fi
exit $rc
