"""Mosquitto's configuration and ACL as text, from plain values (no Django)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CONF_FILE = "mosquitto.conf"
ACL_FILE = "acl"
CA_FILE = "trusted-cas.pem"
SERVER_CERT_FILE = "server.crt"
SERVER_KEY_FILE = "server.key"
LOG_FILE = "mosquitto.log"


@dataclass(frozen=True)
class DeviceGrant:
    """One enabled device: its certificate CN is its username, and its topics are its own."""

    client_id: str  # ProductId + DeviceName, the certificate's Common Name
    topic_prefix: str  # ProductId/DeviceName/


def render_acl(grants: Iterable[DeviceGrant]) -> str:
    lines = [
        "# Written by IoT Hub Console; rewritten whenever devices change.",
        "# Each enabled device may use <ProductId>/<DeviceName>/# and nothing else.",
        "",
    ]
    for grant in grants:
        lines.append(f"user {grant.client_id}")
        lines.append(f"topic readwrite {grant.topic_prefix}#")
        lines.append("")
    return "\n".join(lines)


def render_mosquitto_conf(directory: Path, *, bind_address: str, port: int) -> str:
    return "\n".join(
        [
            "# Written by IoT Hub Console: the console is the source of truth.",
            "per_listener_settings false",
            "persistence false",
            "allow_anonymous false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"acl_file {directory / ACL_FILE}",
            "",
            f"listener {port} {bind_address}",
            "protocol mqtt",
            f"cafile {directory / CA_FILE}",
            f"certfile {directory / SERVER_CERT_FILE}",
            f"keyfile {directory / SERVER_KEY_FILE}",
            "tls_version tlsv1.2",
            "require_certificate true",
            # The client certificate's CN (ProductId + DeviceName) becomes the
            # username the ACL is keyed on; a client cannot claim another name.
            "use_identity_as_username true",
            "",
        ]
    )
