"""Parses cis490's Kubernetes manifests (deploy/k8s) with PyYAML, checks
what a cluster would reject or run wrongly, and prints the Jobs as JSON
steps in the order deploy/k8s/run.sh applies them, for the test to run.

Usage: python check_k8s.py DEPLOY_K8S_DIR
Exits non-zero, naming the file and field, when a manifest is wrong.
"""

import json
import re
import sys
from pathlib import Path

import yaml


def fail(path, why):
    print(f"{path}: {why}", file=sys.stderr)
    sys.exit(1)


def main() -> int:
    root = Path(sys.argv[1])
    run_sh = (root / "run.sh").read_text()
    order = re.search(r"for job in ([a-z -]+); do", run_sh)
    if not order:
        fail(root / "run.sh", "no `for job in ...; do` loop")
    storage = yaml.safe_load((root / "storage.yaml").read_text())
    if storage.get("kind") != "PersistentVolumeClaim":
        fail(root / "storage.yaml", "not a PersistentVolumeClaim")
    claim = storage["metadata"]["name"]
    if "ReadWriteMany" not in storage["spec"]["accessModes"]:
        fail(root / "storage.yaml", "pods on several nodes need ReadWriteMany")
    steps = []
    for name in order.group(1).split():
        path = root / f"{name}.yaml"
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if len(docs) != 1:
            fail(path, f"{len(docs)} documents, expected one Job")
        job = docs[0]
        if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
            fail(path, "not a batch/v1 Job")
        if job["metadata"]["name"] != f"cis490-{name}":
            fail(path, f"metadata.name {job['metadata']['name']!r}, run.sh waits for cis490-{name}")
        spec = job["spec"]
        pod = spec["template"]["spec"]
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            fail(path, "a Job's pods need restartPolicy Never or OnFailure")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        containers = pod.get("initContainers", []) + pod["containers"]
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions", 1)
        for c in containers:
            for m in c.get("volumeMounts", []):
                v = volumes.get(m["name"])
                if not v or v.get("persistentVolumeClaim", {}).get("claimName") != claim:
                    fail(path, f"container {c['name']}: volume {m['name']} is not the claim {claim}")
                if m["mountPath"] != "/data":
                    fail(path, f"container {c['name']}: mounts at {m['mountPath']}, the commands read /data")
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            command = c["command"]
            if "--shard" in command:
                if not indexed:
                    fail(path, f"container {c['name']}: --shard auto needs completionMode: Indexed")
                if env.get("CIS490_SHARD_COUNT") != str(completions):
                    fail(path, f"CIS490_SHARD_COUNT {env.get('CIS490_SHARD_COUNT')!r} is not completions {completions}")
                if spec.get("parallelism", 1) > completions:
                    fail(path, "parallelism above completions")
            steps.append({
                "job": name,
                "container": c["name"],
                "indexed": indexed,
                "completions": completions,
                "env": env,
                "command": command,
            })
    print(json.dumps(steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
