from django import template
from django.utils.html import format_html

from certificates import health

register = template.Library()


@register.simple_tag(takes_context=True)
def certificate_health_badge(context) -> str:
    """The sidebar's count of Certificate Health findings, when there are any."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return ""
    count = health.finding_count(user)
    if not count:
        return ""
    # Hidden from the link's accessible name, which stays exactly "Certificate Health";
    # the page itself says how many findings there are of each kind.
    return format_html(
        ' <span class="badge rounded-pill text-bg-danger ms-auto" aria-hidden="true" '
        'data-testid="health-badge" title="{} finding(s)">{}</span>',
        count,
        f"{count:,}",
    )
