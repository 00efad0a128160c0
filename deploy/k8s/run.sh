#!/bin/bash
# Runs the cis490 pipeline on Kubernetes, one Job after another: each is
# applied when the one before it has completed (`kubectl wait`), and the
# script stops at the first that fails. The store must already be in the
# cis490-data volume under /data/store. docs/cluster.md, "Kubernetes".
#
#   deploy/k8s/run.sh            # in the namespace of the current context
#   KUBECTL="kubectl -n lab" deploy/k8s/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
read -r -a kubectl <<<"${KUBECTL:-kubectl}"
timeout_s="${TIMEOUT_S:-86400}"   # per Job
poll_s="${POLL_S:-10}"

"${kubectl[@]}" apply -f "$here/storage.yaml"
for job in validate merge-validation extract merge-features train eval; do
    # A Job's spec cannot change in place: an earlier run's Job goes first.
    "${kubectl[@]}" delete job "cis490-$job" --ignore-not-found --wait=true
    "${kubectl[@]}" apply -f "$here/$job.yaml"
    echo "waiting for cis490-$job ..."
    waited=0
    while :; do
        state=$("${kubectl[@]}" get job "cis490-$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
        case " $state " in
            *" Complete "*) break ;;
            *" Failed "*)
                echo "cis490-$job failed; see: ${kubectl[*]} logs job/cis490-$job" >&2
                exit 1 ;;
        esac
        if (( waited >= timeout_s )); then
            echo "cis490-$job still running after ${timeout_s} s; giving up (it keeps running)" >&2
            exit 1
        fi
        sleep "$poll_s"
        waited=$(( waited + poll_s ))
    done
done
echo "done: the evaluation is in /data/work/run/eval of the cis490-data volume"
