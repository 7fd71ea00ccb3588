#!/usr/bin/env bash
# The real-cluster suites: starts ../shared/tools/realk8s (a Kubernetes 1.36
# API server, controller manager, scheduler and, with the node, a kubelet
# running pods of realk8s.local/busybox:1), runs the live tests against it,
# and stops it. One-time setup of the kit: its README.
#
#   tests/live.sh                 # control plane and node: every live suite
#   WITH_CSI=1 tests/live.sh      # ... and the CSI snapshot stack: live_backup too
#   tests/live.sh live_carry      # one suite (a test file's name)
#   tests/live.sh live_carry -- a_switch_keeps   # ... and a filter
#
# Helm tests use HELM3_BIN/HELM4_BIN (../shared/tools/install-helm.sh).
# Without the kit these suites are `ignored` in a plain `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=(live_cluster live_carry live_helm live_storage)
[[ ${WITH_CSI:-0} == 1 ]] && suites+=(live_backup)
if [[ $# -gt 0 && $1 != -- ]]; then suites=("$1"); shift; fi
[[ ${1:-} == -- ]] && shift
if [[ -z "${HELM3_BIN:-}" || -z "${HELM4_BIN:-}" ]]; then
  eval "$(../shared/tools/install-helm.sh)"
fi
export WITH_NODE=${WITH_NODE:-1}
. ../shared/tools/realk8s/test-env.sh || exit 1
export PERSIST_TEST_NODE=$WITH_NODE
[[ ${WITH_CSI:-0} == 1 ]] && export PERSIST_TEST_CSI=1
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
cargo test "${args[@]}" -- --test-threads=2 "$@"
