@echo off
rem Shell completion for `kubectl persist` (kubectl 1.26+) on Windows: kubectl runs
rem kubectl_complete-persist from PATH; this hands the words to kubectl-persist.
kubectl-persist.exe __complete %*
