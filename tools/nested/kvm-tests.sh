#!/bin/sh
# kvm-tests.sh RESULTS — runs the Category=Kvm tests of every self-executing test project against /dev/kvm.
# Meant to run where /dev/kvm works: directly, or inside tools/nested/run-in-kvm.sh.
results=$1
[ -c /dev/kvm ] || { echo "kvm-tests: no /dev/kvm here" >&2; exit 3; }
rc=0
for p in Kvm Devices Vmm; do
    dll=tests/$p.Tests/bin/Release/net10.0/ActorVmm.$p.Tests.dll
    echo "kvm-tests: $p" >&2
    dotnet "$dll" -trait Category=Kvm -noLogo -noColor -parallel none -result-xml "$results/$p.kvm.xml" || rc=1
done
exit $rc
