from django.conf import settings
from django.http import HttpRequest


def console(request: HttpRequest) -> dict:
    return {
        "console_region": settings.IOTHUB_REGION,
        "signup_allowed": settings.IOTHUB_ALLOW_SIGNUP,
    }
