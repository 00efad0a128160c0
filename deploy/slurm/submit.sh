#!/bin/bash
# Submits the whole cis490 pipeline to Slurm as a chain of jobs, each
# starting only when the one before it succeeded (afterok):
#
#   validate (array of $SHARDS) -> merge-validation -> extract (array of
#   $SHARDS) -> merge-features (+ split) -> train (array: models x variants)
#   -> eval
#
# Every job runs the cis490 binary on a file system all nodes share.
# Settings come from the environment (defaults below); docs/cluster.md.
#
#   STORE=/shared/store WORK=/shared/work SHARDS=32 deploy/slurm/submit.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

export CIS490="${CIS490:-cis490}"          # the binary: on PATH, or a path every node sees
export STORE="${STORE:?set STORE to the receiver store (a path every node sees)}"
export WORK="${WORK:?set WORK to a folder for the outputs (every node sees it)}"
export SHARDS="${SHARDS:-16}"              # array tasks of validate and extract
export RECIPE="${RECIPE:-host}"            # split recipe: host, sample or time
export MODELS="${MODELS:-gbt mlp cnn gru lstm transformer}"
export VARIANTS="${VARIANTS:-realistic oracle}"
export TRAIN_ARGS="${TRAIN_ARGS:-}"        # extra `cis490 train` flags, e.g. "--epochs 20" or "--device cuda"
TRAIN_SBATCH_ARGS="${TRAIN_SBATCH_ARGS:-}" # extra sbatch flags of the train array only, e.g. "--gres=gpu:1"
SBATCH="${SBATCH:-sbatch}"

read -r -a models <<<"$MODELS"
read -r -a variants <<<"$VARIANTS"
trainings=$(( ${#models[@]} * ${#variants[@]} ))
(( SHARDS >= 1 )) || { echo "SHARDS must be at least 1" >&2; exit 2; }
(( trainings >= 1 )) || { echo "MODELS and VARIANTS must name at least one each" >&2; exit 2; }
mkdir -p "$WORK/logs"

# `sbatch --parsable` prints "jobid" or "jobid;cluster".
submit() { local id; id=$("$SBATCH" --parsable --chdir="$WORK" "$@"); echo "${id%%;*}"; }

validate=$(submit --array=0-$(( SHARDS - 1 )) "$here/validate.sbatch")
merge_validation=$(submit --dependency=afterok:"$validate" "$here/merge-validation.sbatch")
extract=$(submit --dependency=afterok:"$merge_validation" --array=0-$(( SHARDS - 1 )) "$here/extract.sbatch")
merge_features=$(submit --dependency=afterok:"$extract" "$here/merge-features.sbatch")
read -r -a train_sbatch_args <<<"$TRAIN_SBATCH_ARGS"
train=$(submit --dependency=afterok:"$merge_features" --array=0-$(( trainings - 1 )) ${train_sbatch_args[@]+"${train_sbatch_args[@]}"} "$here/train.sbatch")
evaluate=$(submit --dependency=afterok:"$train" "$here/eval.sbatch")
echo "submitted: validate $validate, merge-validation $merge_validation, extract $extract, merge-features $merge_features, train $train, eval $evaluate"
echo "outputs in $WORK (logs in $WORK/logs); follow with: squeue -u ${USER:-$(id -un)}"
