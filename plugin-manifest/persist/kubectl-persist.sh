#!/bin/sh
# Entry point of the Helm 4 plugin `persist` (see plugin.yaml). Runs the
# kubectl-persist executable shipped in the plugin's bin/ if there is one,
# otherwise the one on PATH, passing all arguments and stdin through.
#
# Helm 4 (4.1.x) captures a post-renderer's stderr and never shows it, not even
# with --debug. So when there is a terminal, stderr goes straight to it;
# set HELM_PERSIST_STDERR=keep to leave stderr alone.
dir=${HELM_PLUGIN_DIR:-$(dirname "$0")}
if [ -x "$dir/bin/kubectl-persist" ]; then
  bin=$dir/bin/kubectl-persist
elif command -v kubectl-persist >/dev/null 2>&1; then
  bin=kubectl-persist
else
  bin=
fi
if [ "${HELM_PERSIST_STDERR:-}" != keep ] && (: >/dev/tty) 2>/dev/null; then
  exec 2>/dev/tty
fi
if [ -z "$bin" ]; then
  echo "helm plugin persist: kubectl-persist not found in $dir/bin or on PATH" >&2
  exit 127
fi
exec "$bin" "$@"
