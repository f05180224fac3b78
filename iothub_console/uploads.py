"""Uploads held in memory only, and a clear refusal of a request too big to hold."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import MemoryFileUploadHandler

UPLOAD_TOO_LARGE = "The upload is {size:,} bytes; a request may carry at most {limit:,} bytes of files."


class MemoryOnlyUploadHandler(MemoryFileUploadHandler):
    """Django's in-memory handler, alone: nothing goes to the temporary directory.

    Django's own handler steps aside for a request over FILE_UPLOAD_MAX_MEMORY_SIZE,
    and with no disk handler after it the files would vanish and the form would ask
    for them as if none had been chosen. Such a request is refused instead: a 400
    page (templates/400.html) that says why, before any of it is read.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        super().handle_raw_input(input_data, META, content_length, boundary, encoding)
        if not self.activated:
            raise RequestDataTooBig(
                UPLOAD_TOO_LARGE.format(size=content_length or 0, limit=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
            )
