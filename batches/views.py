from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.errors import ServiceError, add_to_form
from iothub_console.http import is_consuming_get, secret_withheld
from iothub_console.selectors import found_or_404
from products import selectors as product_selectors

from . import selectors, services
from .forms import BatchForm
from .models import BatchRow, DeviceBatch


def get_batch(request: AuthenticatedHttpRequest, pk: int) -> DeviceBatch:
    """The signed-in account's batch, or 404 (also for other accounts' batches)."""
    return found_or_404(selectors.get_batch, owner=request.user, pk=pk)


def batch_create(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = found_or_404(product_selectors.get_product, owner=request.user, product_id=product_id)
    form = BatchForm(request.POST or None, request.FILES or None, product=product)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.start_batch(
                owner=request.user,
                product=product,
                kind=form.kind,
                names=form.cleaned_data.get("names", []),
                certificates=form.cleaned_data.get("certificates", []),
                source_name=form.source_name,
            )
        except ServiceError as error:
            add_to_form(form, error)
        else:
            messages.success(request, f"Batch of {batch.total:,} devices queued.")
            return redirect(batch)
    return render(
        request, "batches/devicebatch_create.html", {"form": form, "product": product, "tab": "batches"}
    )


def batch_list(request: AuthenticatedHttpRequest, product_id: str) -> HttpResponse:
    product = found_or_404(product_selectors.get_product, owner=request.user, product_id=product_id)
    page = Paginator(selectors.batches_for(request.user, product), 20).get_page(request.GET.get("page"))
    return render(
        request, "batches/devicebatch_list.html", {"product": product, "page": page, "tab": "batches"}
    )


def batch_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    batch = get_batch(request, pk)
    failed_rows = batch.rows.filter(result=BatchRow.Result.FAILED).order_by("number")[:100]
    return render(
        request,
        "batches/devicebatch_detail.html",
        {
            "batch": batch,
            "product": batch.product,
            "progress": services.progress(batch),
            "failed_rows": failed_rows,
            "stalled_message": services.BATCH_STALLED.format(seconds=settings.IOTHUB_BATCH_STALLED_SECONDS),
        },
    )


@require_POST
def batch_resume(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    batch = get_batch(request, pk)
    try:
        services.resume_batch(batch=batch)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, services.BATCH_RESUMED)
    return redirect(batch)


def batch_progress(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(services.progress(get_batch(request, pk)))


@require_safe
def batch_results(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    batch = get_batch(request, pk)
    if not batch.is_finished:
        messages.error(request, "The results can be downloaded when the batch has finished.")
        return redirect(batch)
    if not is_consuming_get(request):
        # Building the archive takes the generated private keys: only the user's own GET may.
        return secret_withheld(request)
    archive = services.results_archive(batch=batch)
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=f"{batch.product.product_id}_batch_{batch.pk}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response
