"""The official Tencent Cloud Python SDK, pointed at a live test server."""

from __future__ import annotations

from urllib.parse import urlparse

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.iotcloud.v20210408 import iotcloud_client, models

__all__ = ["TencentCloudSDKException", "models", "sdk_client"]


def sdk_client(live_server_url: str, secret_id: str, secret_key: str) -> iotcloud_client.IotcloudClient:
    endpoint = urlparse(live_server_url).netloc
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http", reqTimeout=30))
    return iotcloud_client.IotcloudClient(
        credential.Credential(secret_id, secret_key), "ap-guangzhou", profile
    )
