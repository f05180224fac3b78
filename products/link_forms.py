"""The device page's forms that reach the device through the broker."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from broker import publishing

from . import bundles

VALID_UNTIL_PAST = "Choose a time in the future."
DEFAULT_CREDENTIALS_DAYS = 30


class GenerateCredentialsForm(forms.Form):
    """A Key device's MQTT username and password, valid until a chosen time (as for MQTT.fx)."""

    valid_until = forms.DateTimeField(
        label="Valid until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="The broker refuses the username after this time.",
    )
    algorithm = forms.ChoiceField(
        label="Signature",
        choices=[(bundles.HMAC_SHA256, "HMAC-SHA256"), (bundles.HMAC_SHA1, "HMAC-SHA1")],
        initial=bundles.HMAC_SHA256,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["valid_until"].initial = (
            timezone.now() + timedelta(days=DEFAULT_CREDENTIALS_DAYS)
        ).replace(second=0, microsecond=0)

    def clean_valid_until(self):
        valid_until = self.cleaned_data["valid_until"]
        if valid_until <= timezone.now():
            raise forms.ValidationError(VALID_UNTIL_PAST)
        return valid_until


class PublishMessageForm(forms.Form):
    topic = forms.CharField(label="Topic", max_length=publishing.MAX_TOPIC_CHARS, strip=True)
    payload = forms.CharField(
        label="Payload",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=publishing.MAX_PAYLOAD_BYTES,
    )
    qos = forms.TypedChoiceField(
        label="QoS",
        choices=[(0, "0 (at most once)"), (1, "1 (at least once)")],
        coerce=int,
        initial=0,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, topic_prefix: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].initial = f"{topic_prefix}control"
        self.fields["topic"].help_text = f"Under the device's own prefix, {topic_prefix}"
