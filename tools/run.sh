#!/usr/bin/env bash
# run.sh [actorvmm run options] — sets up (Debian packages, build, default guest image) and boots the embedded
# default guest with `actorvmm run`. Where /dev/kvm is not usable, the VMM runs inside the project's nested-KVM
# runner (tools/nested/run-in-kvm.sh), which says so in one line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
tools/setup.sh
tools/guest/build-guest.sh artifacts/guest >/dev/null
# The Native AOT publish (tools/setup.sh): one native executable.
exec tools/nested/run-in-kvm.sh -- artifacts/actorvmm/actorvmm run "$@"
