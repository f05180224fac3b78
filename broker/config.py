"""Mosquitto's configuration as text, from plain values (no Django)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONF_FILE = "mosquitto.conf"
CA_DIRECTORY = "trusted-cas"
SERVER_CERT_FILE = "server.crt"
SERVER_KEY_FILE = "server.key"
TOKEN_FILE = "broker.token"  # noqa: S105  (a file name, not the token)
PLUGIN_FILE = "iothub_auth.so"
LOG_FILE = "mosquitto.log"


@dataclass(frozen=True)
class BrokerOptions:
    """Where a broker listens and which console it asks."""

    bind_address: str
    port: int  # certificate devices: a client certificate is required
    key_port: int  # Key devices: TLS with server authentication only
    console_url: str
    broker_id: str


def render_mosquitto_conf(directory: Path, options: BrokerOptions) -> str:
    """Two TLS listeners and the plugin; every file named lives in `directory`."""
    tls = [
        f"certfile {directory / SERVER_CERT_FILE}",
        f"keyfile {directory / SERVER_KEY_FILE}",
        "tls_version tlsv1.2",
    ]
    return "\n".join(
        [
            "# Written by IoT Hub Console. The console decides every connection; the",
            "# iothub_auth plugin asks it and enforces the topics it answers with.",
            "per_listener_settings false",
            "persistence false",
            "allow_anonymous false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # A CONNACK written right after the TLS handshake otherwise waits for the
            # client's delayed ACK (Nagle): ~40 ms on every connect.
            "set_tcp_nodelay true",
            f"plugin {directory / PLUGIN_FILE}",
            f"plugin_opt_console_url {options.console_url}",
            f"plugin_opt_token_file {directory / TOKEN_FILE}",
            f"plugin_opt_broker_id {options.broker_id}",
            "",
            "# Certificate devices. The TLS layer checks the chain against every CA a product",
            "# uses; the console then checks it against the device's own product's CA. Not",
            "# use_identity_as_username: with it, Mosquitto would skip the plugin.",
            f"listener {options.port} {options.bind_address}",
            "protocol mqtt",
            *tls,
            f"capath {directory / CA_DIRECTORY}",
            "require_certificate true",
            "",
            "# Key devices: username and password (Tencent's HMAC scheme), checked by the console.",
            f"listener {options.key_port} {options.bind_address}",
            "protocol mqtt",
            *tls,
            "",
        ]
    )
