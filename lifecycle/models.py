"""What a certificate goes through after it is issued: revocation, CRLs, renewal, CA rollover."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from products.models import PLATFORM_CA_NAME


class RevokedCertificate(models.Model):
    """A device certificate the console no longer accepts, and the CRL entry it becomes.

    One row per certificate (its SHA-256 fingerprint): revoked on the device page, as
    superseded by a renewal, or listed in a CRL the customer uploaded for its CA. The
    row outlives its device, so the Platform device CA's CRL keeps listing it.
    """

    class Reason(models.TextChoices):
        # RFC 5280 §5.3.1 names: what `openssl crl -text` prints and customers' CRLs carry.
        UNSPECIFIED = "unspecified", "Unspecified"
        KEY_COMPROMISE = "keyCompromise", "Key compromise"
        CA_COMPROMISE = "cACompromise", "CA compromise"
        AFFILIATION_CHANGED = "affiliationChanged", "Affiliation changed"
        SUPERSEDED = "superseded", "Superseded"
        CESSATION_OF_OPERATION = "cessationOfOperation", "Cessation of operation"
        CERTIFICATE_HOLD = "certificateHold", "Certificate hold"
        REMOVE_FROM_CRL = "removeFromCRL", "Remove from CRL"
        PRIVILEGE_WITHDRAWN = "privilegeWithdrawn", "Privilege withdrawn"
        AA_COMPROMISE = "aACompromise", "AA compromise"

    class Source(models.TextChoices):
        CONSOLE = "console", "Revoked on the console"
        RENEWAL = "renewal", "Superseded by a renewal"
        CRL = "crl", "Listed in the CA's CRL"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(
        "products.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="revocations"
    )
    device_name = models.CharField(max_length=48)
    # The CA that issued the certificate; null: the Platform device CA (whose CRL lists it).
    ca_certificate = models.ForeignKey(
        "certificates.CACertificate", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    serial_hex = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    revoked_at = models.DateTimeField(default=timezone.now)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-revoked_at", "-id"]
        indexes = [
            # The Platform CRL: every certificate the Platform device CA issued and revoked.
            models.Index(fields=["ca_certificate", "revoked_at"], name="revoked_by_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.serial_hex} ({self.reason})"

    @property
    def issuer_name(self) -> str:
        return self.ca_certificate.name if self.ca_certificate is not None else PLATFORM_CA_NAME


class PlatformCRL(models.Model):
    """The newest CRL a Platform CA signed; rebuilt on each revocation and before it lapses."""

    kind = models.CharField(max_length=8, unique=True)  # products.PlatformCA.Kind
    number = models.PositiveBigIntegerField()
    der = models.BinaryField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    last_updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind} CRL {self.number}"


class UploadedCRL(models.Model):
    """The newest CRL a customer uploaded for their CA, verified with that CA."""

    ca_certificate = models.OneToOneField(
        "certificates.CACertificate", on_delete=models.CASCADE, related_name="uploaded_crl"
    )
    number = models.PositiveBigIntegerField(null=True, blank=True)
    der = models.BinaryField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(null=True, blank=True)
    revoked_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"CRL of {self.ca_certificate_id}"


class PreviousCertificate(models.Model):
    """The certificate a renewal replaced, still accepted while the device moves over.

    It works until the device first connects with its new certificate or until
    `accepted_until`, whichever comes first; then it is revoked as superseded.
    """

    device = models.OneToOneField(
        "products.Device", on_delete=models.CASCADE, related_name="previous_certificate"
    )
    certificate_pem = models.TextField()
    fingerprint = models.CharField(max_length=64, unique=True)
    serial_hex = models.CharField(max_length=64)
    ca_certificate = models.ForeignKey(
        "certificates.CACertificate", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    accepted_until = models.DateTimeField(db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"previous certificate of device {self.device_id}"


class SecondCA(models.Model):
    """A product's second CA while it moves from one CA to another: devices of either connect."""

    product = models.OneToOneField("products.Product", on_delete=models.CASCADE, related_name="second_ca")
    # PROTECT: a CA a product still trusts cannot be deleted under its devices.
    ca_certificate = models.ForeignKey(
        "certificates.CACertificate", on_delete=models.PROTECT, related_name="second_ca_of"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"second CA of product {self.product_id}"
