"""The lake: one interface over a local folder (the default) and S3 (``s3://bucket/prefix``).

Objects are addressed by keys relative to the lake root. Parquet tables are laid out
Hive-style, ``<layer>/<table>/<partition_key>=<value>/part-0.parquet``. A partition is a
single object, so replacing it is one atomic PUT (S3, multipart included) or one
``os.replace`` (local): a reader sees the old partition or the new one, never half of either.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ConfigurationError, LakeKeyError
from .settings import ENV_LAKE_URL, ENV_S3_ENDPOINT

PARTITION_FILE = "part-0.parquet"
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    etag: str


def _clean_key(key: str) -> str:
    key = key.strip("/")
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid lake key {key!r}")
    return key


def partition_prefix(layer: str, table: str, partition: tuple[str, str] | None = None) -> str:
    prefix = f"{_clean_key(layer)}/{_clean_key(table)}"
    if partition is not None:
        name, value = partition
        prefix += f"/{name}={value}"
    return prefix


class Lake(ABC):
    """Object storage with a local-folder and an S3 implementation behind one interface."""

    url: str

    # -- objects -----------------------------------------------------------------------------
    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file (multipart above the threshold); the object appears atomically."""

    def get_file(self, key: str, path: Path) -> None:
        """Download an object into a local file (streamed where the store can: large dumps never sit in memory)."""
        Path(path).write_bytes(self.get(key))

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def presigned_url(self, key: str, expires_in: int = 3600) -> str: ...

    @abstractmethod
    def check(self) -> None:
        """Reach the store once; a failure names the setting to fix."""

    def exists(self, key: str) -> bool:
        key = _clean_key(key)
        return any(o.key == key for o in self.list(key))

    def delete_prefix(self, prefix: str) -> int:
        objects = self.list(prefix)
        for obj in objects:
            self.delete(obj.key)
        return len(objects)

    # -- parquet tables ----------------------------------------------------------------------
    def write_partition(
        self, layer: str, table: str, partition: tuple[str, str] | None, data: pd.DataFrame | pa.Table
    ) -> ObjectInfo:
        """Replace one partition (or the whole unpartitioned table) with ``data``, atomically."""
        arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        with tempfile.TemporaryDirectory(prefix="maestro-part-") as tmp:
            path = Path(tmp) / PARTITION_FILE
            pq.write_table(arrow, path, compression="zstd")
            return self.replace_partition_file(layer, table, partition, path)

    def replace_partition_file(
        self, layer: str, table: str, partition: tuple[str, str] | None, path: Path
    ) -> ObjectInfo:
        """Swap a parquet file written elsewhere (e.g. streamed batch by batch) in as the partition."""
        prefix = partition_prefix(layer, table, partition)
        key = f"{prefix}/{PARTITION_FILE}"
        self.put_file(key, path)
        return self._after_partition_write(prefix, key, partition)

    def _after_partition_write(self, prefix: str, key: str, partition: tuple[str, str] | None) -> ObjectInfo:
        """Remove what another writer left in the partition (not our file); the file's info."""
        info = None
        for obj in self.list(prefix + "/"):
            nested = "/" in obj.key[len(prefix) + 1 :]
            if obj.key == key:
                info = obj
            elif partition is not None or not nested:
                self.delete(obj.key)
        if info is None:
            raise LakeKeyError(f"the partition file {key!r} just written is not in the lake {self.url}")
        return info

    def partitions(self, layer: str, table: str) -> list[str]:
        """Values of the partitions present, sorted."""
        prefix = partition_prefix(layer, table) + "/"
        values = set()
        for obj in self.list(prefix):
            head = obj.key[len(prefix) :].split("/", 1)[0]
            if "=" in head:
                values.add(head.split("=", 1)[1])
        return sorted(values)

    def read_partition(
        self, layer: str, table: str, partition: tuple[str, str] | None, columns: list[str] | None = None
    ) -> pa.Table:
        key = f"{partition_prefix(layer, table, partition)}/{PARTITION_FILE}"
        return pq.read_table(io.BytesIO(self.get(key)), columns=columns)

    def read_table(
        self,
        layer: str,
        table: str,
        partition_key: str | None = None,
        values: Iterable[str] | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Read partitions (all, or those in ``values``) into one frame with the partition column."""
        if partition_key is None:
            return self.read_partition(layer, table, None, columns).to_pandas()
        wanted = self.partitions(layer, table) if values is None else list(values)
        frames = []
        for value in wanted:
            part = self.read_partition(layer, table, (partition_key, value), columns).to_pandas()
            part[partition_key] = value
            frames.append(part)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


class LocalLake(Lake):
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigurationError(
                ENV_LAKE_URL, f"the lake folder {self.root} is not writable ({exc.strerror})"
            ) from None

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        if not self.root.exists():
            return []
        prefix = prefix.lstrip("/")
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.exists():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for filename in filenames:
                if filename.startswith("."):
                    continue  # temporary files of an upload in progress
                path = Path(dirpath) / filename
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    found.append(
                        ObjectInfo(
                            key,
                            stat.st_size,
                            datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                            f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                        )
                    )
        return sorted(found, key=lambda o: o.key)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise LakeKeyError(f"no object {key!r} in the lake {self.url}") from None

    def _atomic_write(self, key: str, write: Any) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda tmp: tmp.write_bytes(data))

    def put_file(self, key: str, path: Path) -> None:
        self._atomic_write(key, lambda tmp: shutil.copyfile(path, tmp))

    def write_partition(
        self, layer: str, table: str, partition: tuple[str, str] | None, data: pd.DataFrame | pa.Table
    ) -> ObjectInfo:
        """As :meth:`Lake.write_partition`, but parquet is written straight to a hidden temporary
        file beside the partition's and renamed over it: no temporary folder, no copy."""
        arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        prefix = partition_prefix(layer, table, partition)
        key = f"{prefix}/{PARTITION_FILE}"
        self._atomic_write(key, lambda tmp: pq.write_table(arrow, tmp, compression="zstd"))
        return self._after_partition_write(prefix, key, partition)

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != self.root and parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        path = self._path(key)
        if not path.exists():
            raise LakeKeyError(f"no object {key!r} in the lake {self.url}")
        return path.as_uri()


class S3Lake(Lake):
    """The lake in S3 or any S3-compatible server (MinIO, rclone, …) through boto3."""

    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    ):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        if not url.startswith("s3://"):
            raise ConfigurationError(ENV_LAKE_URL, f"{url!r} is not an s3:// URL")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigurationError(ENV_LAKE_URL, f"{url!r} names no bucket", "use s3://bucket/prefix")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"} if endpoint_url else {},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 * 1024 * 1024),
        )

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigurationError(
                    ENV_LAKE_URL,
                    f"bucket {self.bucket!r} does not exist{where}",
                    "create it or point MAESTRO_LAKE_URL at an existing one",
                ) from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise ConfigurationError(
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                    f"access to bucket {self.bucket!r}{where} was denied ({code})",
                ) from None
            raise ConfigurationError(ENV_LAKE_URL, f"bucket {self.bucket!r}{where}: {code}") from None
        except BotoCoreError as exc:
            setting = ENV_S3_ENDPOINT if self.endpoint_url else ENV_LAKE_URL
            raise ConfigurationError(
                setting,
                f"cannot reach the S3 endpoint{where or ' of AWS'}: {type(exc).__name__}",
                "is the server running and the URL right?",
            ) from None

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = self._key(prefix) if prefix.strip("/") else (self.prefix + "/" if self.prefix else "")
        if prefix.endswith("/") and not full.endswith("/"):
            full += "/"
        found: dict[str, ObjectInfo] = {}  # keyed: some S3-compatible servers list a key twice mid-overwrite
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                key = self._rel(obj["Key"])
                found[key] = ObjectInfo(key, obj["Size"], obj["LastModified"], obj.get("ETag", "").strip('"'))
        return [found[key] for key in sorted(found)]

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise LakeKeyError(f"no object {key!r} in the lake {self.url}") from None

    def put(self, key: str, data: bytes) -> None:
        if len(data) >= self.transfer.multipart_threshold:
            self.client.upload_fileobj(io.BytesIO(data), self.bucket, self._key(key), Config=self.transfer)
        else:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer)

    def get_file(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(path), Config=self.transfer)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise LakeKeyError(f"no object {key!r} in the lake {self.url}") from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_in
        )


def open_lake(
    url: str, endpoint_url: str | None = None, multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
) -> Lake:
    """``s3://bucket/prefix`` gives an :class:`S3Lake`, anything else a :class:`LocalLake` folder."""
    if url.startswith("s3://"):
        return S3Lake(url, endpoint_url=endpoint_url, multipart_threshold=multipart_threshold)
    if "://" in url and not url.startswith("file://"):
        raise ConfigurationError(
            ENV_LAKE_URL, f"unsupported lake URL {url!r}", "use s3://bucket/prefix or a folder path"
        )
    return LocalLake(url[len("file://") :] if url.startswith("file://") else url)
