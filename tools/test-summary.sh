#!/usr/bin/env bash
# test-summary.sh RESULTS PROJECT... — adds up xunit v3 XML (*.xml) and TRX (*.trx) results and prints
# `N passed, N failed, N skipped`. A KVM result file that is missing counts as a failure: KVM tests that did not
# run are never reported as passed. Failed tests of the KVM stage are named (stderr).
results=$1; shift
passed=0; failed=0; skipped=0
attr() { local v; v=$(sed -n "s/.*[[:space:]]$2=\"\([0-9]*\)\".*/\1/p" <<<"$1" | head -n1); echo "${v:-0}"; }
kvm_projects=" ${ACTORVMM_KVM_PROJECTS:-Kvm Vmm GuestJournal} "
for p in "$@"; do
    stages=host
    case "$kvm_projects" in *" $p "*) stages="host kvm" ;; esac
    for stage in $stages; do
        # One file per stage, or for a KVM stage resumed after the nested runner froze, one per attempt and part
        # (tools/nested/kvm-stage.sh: each test's result is in exactly one of them).
        files=()
        for f in "$results/$p.$stage.xml" "$results/$p.$stage".*.xml; do [ -s "$f" ] && files+=("$f"); done
        if [ ${#files[@]} -eq 0 ]; then
            echo "test-summary: $p $stage results missing ($results/$p.$stage.xml): counted as a failure" >&2
            failed=$((failed + 1))
            continue
        fi
        while IFS= read -r line; do
            passed=$((passed + $(attr "$line" passed)))
            failed=$((failed + $(attr "$line" failed) + $(attr "$line" errors)))
            skipped=$((skipped + $(attr "$line" skipped) + $(attr "$line" not-run)))
        done < <(cat "${files[@]}" | grep -o '<assembly [^>]*>')
    done
done
for f in "$results"/*.trx; do
    [ -s "$f" ] || { echo "test-summary: no TRX results found" >&2; failed=$((failed + 1)); continue; }
    line=$(grep -o '<Counters [^>]*>' "$f" | head -n1)
    passed=$((passed + $(attr "$line" passed)))
    failed=$((failed + $(attr "$line" failed) + $(attr "$line" error) + $(attr "$line" timeout) + $(attr "$line" aborted)))
    skipped=$((skipped + $(attr "$line" notExecuted)))
done
# Name the KVM stage's failed tests: its log scrolls by, and a resumed stage spreads results over several files.
for f in "$results"/*.kvm.xml "$results"/*.kvm.*.xml; do
    [ -s "$f" ] || continue
    grep -o '<test [^>]*result="Fail"[^>]*>' "$f" | sed -n 's/.* name="\([^"]*\)".*/test-summary: failed: \1/p' >&2
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
