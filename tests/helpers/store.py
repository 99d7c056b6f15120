"""The files behind a test server's artefact URIs, wherever its profile keeps them: a directory on this machine
(sqlite profile) or objects in the S3 store (postgres profile, `mlflow-artifacts:/` served from a bucket).
Tests change or delete them there, as someone re-uploading behind the registry would."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from devkit.devserver import SERVED_FROM


class S3File:
    """An object key (or a prefix) in the S3 store, with the few Path methods the tests use."""

    def __init__(self, bucket: str, key: str):
        self.bucket, self.key = bucket, key.strip("/")

    def __truediv__(self, part: str) -> S3File:
        return S3File(self.bucket, f"{self.key}/{part}")

    @staticmethod
    def _client():
        import boto3

        return boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])

    def read_bytes(self) -> bytes:
        return bytes(self._client().get_object(Bucket=self.bucket, Key=self.key)["Body"].read())

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_bytes(self, data: bytes) -> None:
        self._client().put_object(Bucket=self.bucket, Key=self.key, Body=data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def unlink(self) -> None:
        self._client().delete_object(Bucket=self.bucket, Key=self.key)

    def rmtree(self) -> None:
        client = self._client()
        listed = client.list_objects_v2(Bucket=self.bucket, Prefix=self.key + "/").get("Contents", [])
        for obj in listed:
            client.delete_object(Bucket=self.bucket, Key=obj["Key"])


def behind(tracking_uri: str, artifact_uri: str) -> Path | S3File:
    """Where the files of `artifact_uri` (a run's artifact URI, say) are kept behind the server at `tracking_uri`."""
    if artifact_uri.startswith("mlflow-artifacts:"):
        destination = urlparse(SERVED_FROM[tracking_uri.rstrip("/")])
        path = urlparse(artifact_uri).path
        return S3File(destination.netloc, f"{destination.path.strip('/')}/{path.strip('/')}")
    if artifact_uri.startswith("s3://"):
        parsed = urlparse(artifact_uri)
        return S3File(parsed.netloc, parsed.path)
    return Path(urlparse(artifact_uri).path)


def run_files(client, run_id: str) -> Path | S3File:
    """The files behind a run's artefact root."""
    return behind(client.tracking_uri, client.get_run(run_id).info.artifact_uri)


def remove_tree(where: Path | S3File) -> None:
    if isinstance(where, S3File):
        where.rmtree()
    else:
        import shutil

        shutil.rmtree(where)
