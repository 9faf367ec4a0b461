#!/usr/bin/env bash
# Renders `actorvmm trace report` output of any saved trace in headless Chromium (Debian's `chromium`) and fails on
# script errors. The same check runs in CI as a test on a trace it records itself:
#   dotnet tests/Vmm.Tests/bin/Release/net10.0/ActorVmm.Vmm.Tests.dll -class ActorVmm.Vmm.Tests.Tracing.HtmlReportBrowserTests
# usage: tools/tracing/check-html-report.sh TRACE_FILE [OUT.html]
# Exit 0: the page loaded, the DOM has the tables and charts, and the console logged no errors.
set -euo pipefail
trace=${1:?usage: $0 TRACE_FILE [OUT.html]}
out=${2:-$(mktemp --suffix=.html)}
root=$(cd "$(dirname "$0")/../.." && pwd)
host=$(ls "$root"/src/Host/bin/Release/net10.0/actorvmm.dll 2>/dev/null || ls "$root"/src/Host/bin/Release/net10.0/ActorVmm.Host.dll)
command -v chromium >/dev/null || { echo "check-html-report: chromium is not installed (apt-get install -y chromium)" >&2; exit 2; }

dotnet "$host" trace report "$trace" --html "$out"
log=$(mktemp)
dom=$(mktemp)
profile=$(mktemp -d)
timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=2000 --dump-dom "file://$out" >"$dom" 2>"$log" || true
rm -rf "$profile"

status=0
if grep -E "Uncaught|CONSOLE\(|ERROR:CONSOLE|SyntaxError|TypeError|ReferenceError" "$log"; then
    echo "check-html-report: script errors in $out" >&2
    status=1
fi
for needle in '<table>' 'id="rate-chart"' 'class="histogram"' 'class="legend"'; do
    if ! grep -q "$needle" "$dom"; then
        echo "check-html-report: the rendered DOM lacks $needle" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "check-html-report: $out renders in headless Chromium without script errors ($(wc -c <"$dom") bytes of DOM)"
rm -f "$log" "$dom"
exit $status
