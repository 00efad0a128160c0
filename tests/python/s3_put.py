"""Creates a bucket on an S3-compatible server and uploads a folder into it
with boto3, as a lab's receiver would fill its store.

Usage: python s3_put.py ENDPOINT BUCKET PREFIX FOLDER
(credentials from the AWS_* environment). Prints the number of objects put.
"""

import sys
from pathlib import Path

import boto3


def main() -> int:
    endpoint, bucket, prefix, folder = sys.argv[1:5]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    root = Path(folder)
    count = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(root).as_posix()}".lstrip("/")
            s3.upload_file(str(path), bucket, key)
            count += 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
