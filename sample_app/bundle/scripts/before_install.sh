#!/bin/bash
# BeforeInstall: prepare the host for the files CodeDeploy copies next: python3 (Amazon
# Linux 2023's system interpreter), an unprivileged service user, the install directory.
set -euo pipefail

if ! command -v python3 >/dev/null 2>&1; then
    dnf install -y python3
fi

if ! id -u order-api >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /opt/order-api --shell /sbin/nologin order-api
fi

install -d -m 0755 -o root -g root /opt/order-api /etc/order-api
