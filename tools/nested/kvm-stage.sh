#!/usr/bin/env bash
# kvm-stage.sh RESULTS — the KVM test stage: tools/nested/kvm-tests.sh through run-in-kvm.sh (nested KVM where this
# machine has no usable /dev/kvm), resumed where it stopped when the nested runner freezes or panics.
#
# The runner's own kernel (KVM under QEMU TCG's emulated SVM) now and then freezes or panics; run-in-kvm.sh then
# returns 125 (no heartbeat) or 124 (no exit code). That is the runner failing, not a test. The results of the tests
# that completed before it are kept: each project's result XML is synced to the host as it ends, and for the project
# that was running the console log (verbose reporter: a line as each test starts and ends) says which tests finished
# and how. The next attempt runs only the test method that was running and the tests not yet run. A test method
# that is running at two freezes counts as one failed test, named. At most ACTORVMM_KVM_ATTEMPTS attempts (default 3).
#
# Results: RESULTS/PROJECT.kvm.aN.xml from attempt N's runs, PROJECT.kvm.aN-partial.xml for what the console log of a
# frozen attempt N shows finished, PROJECT.kvm.aN-frozen.xml / -missing.xml / -incomplete.xml for one failure each
# (a test that froze twice, a run that left no results, tests never run); tools/test-summary.sh adds them all up.
# ACTORVMM_NESTED_TEST_FREEZE: its Nth word is passed to attempt N's run-in-kvm.sh (testing the resume).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=$1
read -r -a projects <<<"${ACTORVMM_KVM_PROJECTS:-Kvm Vmm GuestJournal}"
max_attempts=${ACTORVMM_KVM_ATTEMPTS:-3}
read -r -a freezes <<<"${ACTORVMM_NESTED_TEST_FREEZE:-}"
rm -f "$results"/*.kvm.xml "$results"/*.kvm.*.xml "$results"/kvm-plan.* "$results"/kvm-console.*.log

declare -A done_methods=()  # project -> test methods whose results are kept (excluded from later attempts)
declare -A froze_once=()    # test method -> attempt it was running at a freeze
failures=0

xml_escape() { sed -e 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g' <<<"$1"; }
# write_xml FILE NAME PASSED FAILED SKIPPED [RESULT<TAB>TEST]...: a result file in the xunit v2+ XML shape the summary
# reads (the <assembly> counts), with one <test> per named result.
write_xml() {
    local file=$1 name=$2 passed=$3 failed=$4 skipped=$5 t
    shift 5
    {
        echo '<?xml version="1.0" encoding="utf-8"?>'
        echo '<assemblies>'
        echo "  <assembly name=\"$(xml_escape "$name")\" total=\"$((passed + failed + skipped))\" passed=\"$passed\" failed=\"$failed\" skipped=\"$skipped\" errors=\"0\" not-run=\"0\">"
        for t in "$@"; do echo "    <test name=\"$(xml_escape "${t#*$'\t'}")\" result=\"${t%%$'\t'*}\" />"; done
        echo '  </assembly>'
        echo '</assemblies>'
    } > "$file"
}
has_results() { [ -s "$1" ] && grep -q '<assembly ' "$1"; }

# progress LOG PROJECT: what the console log shows of PROJECT's last run, from the verbose reporter's lines
# (`NAME [STARTING]`, `NAME [FAIL]`, `NAME [SKIP]`, `NAME [FINISHED] Time: ...`; NAME is Namespace.Class.Method, with
# `(args)` for a theory's row). Prints `T<TAB>Pass|Fail|Skip<TAB>METHOD<TAB>NAME` for each test of a method that
# certainly completed, `R<TAB>METHOD` for a method to run again (its lines garbled, e.g. by a kernel message), and
# `L<TAB>METHOD` for the method that was running when the log ends (a theory may have rows still to come). A single
# test that finished last is complete: then no method was running.
progress() {
    local start
    start=$(grep -n "kvm-tests: $2\$" "$1" | tail -n 1 | cut -d: -f1)
    [ -n "$start" ] || return 0
    tail -n "+$start" "$1" | awk -v OFS='\t' '
        match($0, / \[(STARTING|FINISHED|FAIL|SKIP)\]/) {
            ev = substr($0, RSTART + 2, RLENGTH - 3)
            name = substr($0, 1, RSTART - 1); sub(/^[ \t]+/, "", name)
            m = name; sub(/\(.*/, "", m)
            if (!(m in seen)) { seen[m] = 1; order[++n] = m }
            if (!((m SUBSEP name) in known)) { known[m, name] = 1; names[m] = names[m] "\n" name }
            count[ev, name]++
            last = m
        }
        END {
            for (i = 1; i <= n; i++) {
                m = order[i]; k = split(substr(names[m], 2), list, "\n"); whole = 1; single = (k == 1 && list[1] == m)
                for (j = 1; j <= k; j++)
                    if (count["STARTING", list[j]] != 1 || count["FINISHED", list[j]] != 1) whole = 0
                if (m == last && !(whole && single)) { print "L", m; continue }
                if (!whole) { print "R", m; continue }
                for (j = 1; j <= k; j++) {
                    r = count["FAIL", list[j]] ? "Fail" : count["SKIP", list[j]] ? "Skip" : "Pass"
                    print "T", r, m, list[j]
                }
            }
        }'
}

attempt=1
pending=("${projects[@]}")  # projects with tests still to run, in order
while :; do
    tag=a$attempt
    plan=$results/kvm-plan.$attempt
    log=$results/kvm-console.$attempt.log
    for p in "${pending[@]}"; do
        # shellcheck disable=SC2086 # method names have no spaces
        echo "$p $tag ${done_methods[$p]:-}"
    done > "$plan"
    freeze=${freezes[$((attempt - 1))]:-}
    [ "$freeze" != none ] || freeze=
    ACTORVMM_NESTED_TEST_FREEZE=$freeze "$here/run-in-kvm.sh" --timeout 3000 -- "$here/kvm-tests.sh" "$results" "$plan" 2>&1 |
        tee "$log"
    rc=${PIPESTATUS[0]}

    # The project that was running when the attempt ended: the last one the log names. Those before it are done.
    running=
    for p in "${pending[@]}"; do grep -q "kvm-tests: $p\$" "$log" && running=$p; done
    # Projects left without results: after a normal end, and before the running one after a freeze, their run ended
    # without results (one failure each); the running one and those after it are still to run.
    still=() past=0
    for p in "${pending[@]}"; do
        [ "$p" != "$running" ] || past=1
        has_results "$results/$p.kvm.$tag.xml" && continue
        if [ "$rc" -ne 124 ] && [ "$rc" -ne 125 ] || { [ -n "$running" ] && [ $past -eq 0 ]; }; then
            echo "kvm-stage: $p left no results in attempt $attempt: counted as a failure" >&2
            write_xml "$results/$p.kvm.$tag-missing.xml" "ActorVmm.$p.Tests (attempt $attempt: no results)" 0 1 0 \
                $'Fail\t'"$p: the test run left no results (see $log)"
            failures=$((failures + 1))
        else
            still+=("$p")
        fi
    done
    [ ${#still[@]} -gt 0 ] || break

    # The runner froze or died during still[0]: keep what its log shows finished.
    p=${still[0]}
    kept=() passed=0 failed=0 skipped=0 running_method= lost=0
    while IFS=$'\t' read -r kind a b c; do
        case $kind in
            T) kept+=("$a"$'\t'"$c")
               case $a in Pass) passed=$((passed + 1)) ;; Fail) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
               [[ " ${done_methods[$p]:-} " == *" $b "* ]] || done_methods[$p]+=" $b" ;;
            R) lost=$((lost + 1)) ;;
            L) running_method=$a ;;
        esac
    done < <(progress "$log" "$p")
    [ ${#kept[@]} -eq 0 ] ||
        write_xml "$results/$p.kvm.$tag-partial.xml" "ActorVmm.$p.Tests (attempt $attempt, before the runner stopped)" \
            "$passed" "$failed" "$skipped" "${kept[@]}"
    failures=$((failures + failed))
    what="froze (no heartbeat)"
    [ "$rc" -eq 125 ] || what="ended without an exit code (a panic, or the time limit)"
    if [ -n "$running_method" ] && [ -n "${froze_once[$running_method]:-}" ]; then
        echo "kvm-stage: the nested runner $what again in $running_method: counted as a failed test" >&2
        write_xml "$results/$p.kvm.$tag-frozen.xml" "ActorVmm.$p.Tests (attempt $attempt: test froze the runner twice)" \
            0 1 0 $'Fail\t'"$running_method (the nested runner froze or died in it in attempts ${froze_once[$running_method]} and $attempt)"
        failures=$((failures + 1))
        done_methods[$p]+=" $running_method"
        running_method=
    elif [ -n "$running_method" ]; then
        froze_once[$running_method]=$attempt
    fi
    if [ "$attempt" -ge "$max_attempts" ]; then
        for q in "${still[@]}"; do
            echo "kvm-stage: the nested runner $what in attempt $attempt, the last: $q's remaining tests did not run: counted as a failure" >&2
            write_xml "$results/$q.kvm.$tag-incomplete.xml" "ActorVmm.$q.Tests (tests not run)" 0 1 0 \
                $'Fail\t'"$q: tests not run: the nested runner froze or died $attempt times"
        done
        failures=$((failures + 1))
        break
    fi
    echo "kvm-stage: the nested runner $what in attempt $attempt: keeping the ${#kept[@]} $p test results before it;" \
        "running ${running_method:+the test method that was running ($running_method) and }the tests not yet run again$([ $lost -eq 0 ] || echo " ($lost method(s) with garbled log lines too)")" >&2
    pending=("${still[@]}")
    attempt=$((attempt + 1))
done
[ "$rc" -eq 0 ] && [ "$failures" -eq 0 ]
