#!/bin/sh
# kvm-tests.sh RESULTS — runs the Category=Kvm tests of every self-executing test project against /dev/kvm.
# Meant to run where /dev/kvm works: directly, or inside tools/nested/run-in-kvm.sh.
results=$1
# The test projects that hold Category=Kvm tests (tools/test.sh passes the same list to the summary).
ACTORVMM_KVM_PROJECTS=${ACTORVMM_KVM_PROJECTS:-"Kvm Vmm"}
[ -c /dev/kvm ] || { echo "kvm-tests: no /dev/kvm here" >&2; exit 3; }
rc=0
for p in $ACTORVMM_KVM_PROJECTS; do
    dll=tests/$p.Tests/bin/Release/net10.0/ActorVmm.$p.Tests.dll
    echo "kvm-tests: $p" >&2
    # A hung KVM test must fail this stage, not run into CI's time limit: 40 minutes per project at most.
    # The verbose reporter prints each test as it starts and ends, and -longRunning names a test still running after
    # 5 minutes, so a hang names its test in the log.
    timeout -k 30 2400 dotnet "$dll" -trait Category=Kvm -noLogo -noColor -parallelMode none -reporter verbose \
        -longRunning 300 -result-xml "$results/$p.kvm.xml" || rc=1
done
exit $rc
