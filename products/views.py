from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Product


def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(owner=request.user).select_related("ca_certificate")
    return render(request, "products/product_list.html", {"products": products})
