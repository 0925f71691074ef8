"""Build the order-api CodeDeploy bundle for the good or bad release, and optionally ship it.

``build`` zips ``sample_app/bundle`` (AppSpec, hook scripts, systemd unit), the
``sample_app`` package, a ``release.json`` naming the version and variant, and a
``config/order-api.env`` with the port and keep-alive into one revision. The zip is
deterministic (fixed timestamps, fixed modes, sorted entries), so the same inputs give the
same bytes, the same S3 ETag, and a diff-free rebuild. ``push`` builds, uploads the zip to
the artifact bucket and calls CodeDeploy ``CreateDeployment`` with the S3 revision; the
bucket, application and group names come from the command line (the stack outputs), and
boto3 clients are created only when ``push`` runs.

    python -m tools.release build --variant bad --out dist/
    python -m tools.release push --variant bad --bucket B --application A --group G
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sample_app.order_api import (
    ALB_DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_KEEP_ALIVE_SECONDS,
    DEFAULT_PORT,
    ServerConfig,
)
from sample_app.release_info import VARIANTS, Release

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_DIR = REPO_ROOT / "sample_app"
BUNDLE_DIR = APP_DIR / "bundle"
# The reference incident (docs/incident.md): 2.3.1 was the last good release, 2.3.2
# shipped the double-end bug.
DEFAULT_VERSIONS = {"good": "2.3.1", "bad": "2.3.2"}
# The pre-traffic checks scripts/validate_release.sh runs (bundle/checks/pre_traffic.py).
VALIDATE_FILE = "config/validate.json"
# The instance role may read only this prefix (stacks.service_stack.REVISIONS_PREFIX).
DEFAULT_KEY_PREFIX = "revisions/"
# Zip cannot store dates before 1980; a fixed stamp makes the bytes independent of mtimes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_FILE_MODE = 0o100644
_EXEC_MODE = 0o100755


@dataclass(frozen=True, kw_only=True)
class BundleSpec:
    """Everything that decides the bundle's bytes besides the files in the repository."""

    variant: str
    version: str = ""
    port: int = DEFAULT_PORT
    keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS
    alb_idle_timeout_seconds: float = ALB_DEFAULT_IDLE_TIMEOUT_SECONDS
    # The ValidateService pre-traffic checks (config/validate.json). Off only to watch the
    # alarm path catch a bad release that has reached traffic.
    pre_traffic_checks: bool = True

    @property
    def release(self) -> Release:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant {self.variant!r}: expected one of {VARIANTS}")
        return Release(version=self.version or DEFAULT_VERSIONS[self.variant], variant=self.variant)

    @property
    def file_name(self) -> str:
        release = self.release
        return f"order-api-{release.version}-{release.variant}.zip"

    def server_config(self) -> ServerConfig:
        """The config the instance will run with; building it runs the app's own checks."""
        return ServerConfig(
            release=self.release,
            host="0.0.0.0",  # noqa: S104 - the instance must accept the ALB's connections
            port=self.port,
            keep_alive_seconds=self.keep_alive_seconds,
            alb_idle_timeout_seconds=self.alb_idle_timeout_seconds,
        )


@dataclass(frozen=True, kw_only=True)
class PushResult:
    deployment_id: str
    bucket: str
    key: str
    etag: str
    version_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "bucket": self.bucket,
            "key": self.key,
            "eTag": self.etag,
            "version": self.version_id,
        }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def env_file(config: ServerConfig) -> str:
    """The systemd EnvironmentFile the unit in ``bundle/config`` reads its flags from."""
    return (
        f"ORDER_API_HOST={config.host}\n"
        f"ORDER_API_PORT={config.port}\n"
        f"ORDER_API_KEEP_ALIVE_SECONDS={_number(config.keep_alive_seconds)}\n"
        f"ORDER_API_ALB_IDLE_TIMEOUT_SECONDS={_number(config.alb_idle_timeout_seconds)}\n"
    )


def bundle_files(spec: BundleSpec, bundle_dir: Path = BUNDLE_DIR) -> dict[str, bytes]:
    """Map each zip entry name to its content: repository files plus the generated ones."""
    config = spec.server_config()
    files: dict[str, bytes] = {}
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(bundle_dir).as_posix()] = path.read_bytes()
    app_dir = bundle_dir.parent
    for path in sorted(app_dir.glob("*.py")):
        files[f"{app_dir.name}/{path.name}"] = path.read_bytes()
    release_json = json.dumps(config.release.as_dict(), indent=2, sort_keys=True) + "\n"
    files["release.json"] = release_json.encode("utf-8")
    files["config/order-api.env"] = env_file(config).encode("utf-8")
    if not spec.pre_traffic_checks:
        checks = json.loads(files[VALIDATE_FILE])
        files[VALIDATE_FILE] = (json.dumps({**checks, "enabled": False}, indent=2) + "\n").encode()
    if "appspec.yml" not in files:
        raise FileNotFoundError(f"{bundle_dir}/appspec.yml: the bundle needs it at its root")
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """Zip ``files`` deterministically; anything under ``scripts/`` is marked executable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            # Unix host, so the agent's unzip applies the mode bits in external_attr.
            info.create_system = _UNIX
            mode = _EXEC_MODE if name.startswith("scripts/") else _FILE_MODE
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def build_bundle(spec: BundleSpec, bundle_dir: Path = BUNDLE_DIR) -> bytes:
    return zip_bytes(bundle_files(spec, bundle_dir))


def write_bundle(spec: BundleSpec, out_dir: Path, bundle_dir: Path = BUNDLE_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / spec.file_name
    target.write_bytes(build_bundle(spec, bundle_dir))
    return target


def push_bundle(
    s3: Any,
    codedeploy: Any,
    *,
    data: bytes,
    bucket: str,
    key: str,
    application: str,
    group: str,
    description: str,
    deployment_config: str | None = None,
    disable_alarms: bool = False,
) -> PushResult:
    """Upload the zip and start a CodeDeploy deployment of exactly that object."""
    # usedforsecurity=False: Content-MD5 is S3's transfer integrity check, not a signature.
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType="application/zip",
        ContentMD5=base64.b64encode(digest).decode("ascii"),
    )
    etag = str(put["ETag"]).strip('"')
    version_id = put.get("VersionId")
    s3_location: dict[str, str] = {
        "bucket": bucket,
        "key": key,
        "bundleType": "zip",
        # With eTag (and version on a versioned bucket) CodeDeploy deploys this exact
        # object, even if the key is overwritten later (CodeDeploy API Reference,
        # S3Location).
        "eTag": etag,
    }
    if version_id and version_id != "null":
        s3_location["version"] = version_id
    request: dict[str, Any] = {
        "applicationName": application,
        "deploymentGroupName": group,
        "revision": {"revisionType": "S3", "s3Location": s3_location},
        "description": description,
        "fileExistsBehavior": "OVERWRITE",
    }
    if deployment_config:
        request["deploymentConfigName"] = deployment_config
    if disable_alarms:
        # A group whose alarm is in ALARM refuses to deploy (CodeDeploy API Reference,
        # CreateDeployment, overrideAlarmConfiguration); this
        # lets a fix ship anyway, without alarm monitoring for this one deployment.
        request["overrideAlarmConfiguration"] = {"enabled": False}
    response = codedeploy.create_deployment(**request)
    return PushResult(
        deployment_id=response["deploymentId"],
        bucket=bucket,
        key=key,
        etag=etag,
        version_id=version_id if version_id != "null" else None,
    )


@functools.cache
def s3_client(region: str | None) -> Any:
    import boto3

    return boto3.client("s3", region_name=region)


@functools.cache
def codedeploy_client(region: str | None) -> Any:
    import boto3

    return boto3.client("codedeploy", region_name=region)


def _add_bundle_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument(
        "--version",
        default="",
        help="default: 2.3.1 for good, 2.3.2 for bad (the reference incident's)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the target group's port")
    parser.add_argument("--keep-alive-timeout", type=float, default=DEFAULT_KEEP_ALIVE_SECONDS)
    parser.add_argument(
        "--alb-idle-timeout",
        type=float,
        default=ALB_DEFAULT_IDLE_TIMEOUT_SECONDS,
        help="the ALB's idle timeout; the keep-alive must exceed it",
    )
    parser.add_argument(
        "--no-pre-traffic-checks",
        dest="pre_traffic_checks",
        action="store_false",
        help="ship validate.json disabled: the bad release reaches traffic (the alarm path)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the zip bundle to --out")
    _add_bundle_args(build)
    push = commands.add_parser("push", help="build, upload to S3, create a CodeDeploy deployment")
    _add_bundle_args(push)
    push.add_argument("--bucket", required=True, help="the artifact bucket (stack output)")
    push.add_argument("--application", required=True, help="CodeDeploy application name")
    push.add_argument("--group", required=True, help="CodeDeploy deployment group name")
    push.add_argument("--key-prefix", default=DEFAULT_KEY_PREFIX)
    push.add_argument(
        "--deployment-config", help="e.g. CodeDeployDefault.OneAtATime (default: the group's)"
    )
    push.add_argument(
        "--disable-alarms",
        action="store_true",
        help="deploy even though a group alarm is in ALARM (ships a fix; no alarm stop)",
    )
    push.add_argument("--region", help="default: the AWS SDK's configured region")
    return parser


def _spec_from_args(args: argparse.Namespace) -> BundleSpec:
    return BundleSpec(
        variant=args.variant,
        version=args.version,
        port=args.port,
        keep_alive_seconds=args.keep_alive_timeout,
        alb_idle_timeout_seconds=args.alb_idle_timeout,
        pre_traffic_checks=args.pre_traffic_checks,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        spec = _spec_from_args(args)
        path = write_bundle(spec, args.out)
    except ValueError as exc:
        parser.error(str(exc))
    data = path.read_bytes()
    built = {
        "event": "bundle_built",
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        **spec.release.as_dict(),
    }
    print(json.dumps(built))
    if args.command == "push":
        release = spec.release
        result = push_bundle(
            s3_client(args.region),
            codedeploy_client(args.region),
            data=data,
            bucket=args.bucket,
            key=f"{args.key_prefix}{spec.file_name}",
            application=args.application,
            group=args.group,
            description=f"order-api {release.version} ({release.variant}) via tools/release.py",
            deployment_config=args.deployment_config,
            disable_alarms=args.disable_alarms,
        )
        print(json.dumps({"event": "deployment_created", **result.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
