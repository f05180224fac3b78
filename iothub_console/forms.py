"""Form fields shared by the apps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile


class RuleField(forms.CharField):
    """A text field whose validators are one rule: the first refusal is the only message.

    A name that is too long and also holds a space breaks one rule (the name pattern),
    and the user reads that rule once, not once per validator that noticed.
    """

    def run_validators(self, value: Any) -> None:
        if value in self.empty_values:
            return
        for validator in self.validators:
            validator(value)


class UploadField(forms.FileField):
    """An uploaded file (a certificate, a CSR, a CRL) whose cleaned value is its bytes.

    The file must end in one of `extensions` (lower case, with the dot; `wrong_extension`
    names it with {filename}) and pass `check_size`, the app's size rule, which raises
    a ValidationError. What the bytes hold is for the service to judge.
    """

    def __init__(
        self,
        *,
        extensions: tuple[str, ...],
        wrong_extension: str,
        check_size: Callable[[int], None],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ",".join(extensions)}))
        super().__init__(**kwargs)
        self.extensions = extensions
        self.wrong_extension = wrong_extension
        self.check_size = check_size

    def clean(self, data: Any, initial: Any = None) -> bytes | None:
        upload: UploadedFile | None = super().clean(data, initial)
        if upload is None:
            return None
        filename = PurePath(upload.name or "")
        if filename.suffix.lower() not in self.extensions:
            raise forms.ValidationError(self.wrong_extension.format(filename=filename.name))
        self.check_size(upload.size or 0)
        return upload.read()
