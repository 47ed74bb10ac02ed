"""The costs page: spend per day, per model and per person for a period, its CSV export, and
monthly budgets (set by staff)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from studio import charts, jobs, params, spending
from studio.models import Budget

MAX_DAYS = 731  # two years: a chart of one bar a day stays readable, and the page quick


def _period(request: HttpRequest) -> tuple[date, date, str]:
    """The [start, end] days asked for; this month by default. Bad dates fall back with a notice."""
    today = timezone.localdate()
    start, end = today.replace(day=1), today
    error = ""
    asked_start, asked_end = request.GET.get("start", ""), request.GET.get("end", "")
    parsed_start, parsed_end = params.day(asked_start), params.day(asked_end)
    if (asked_start and parsed_start is None) or (asked_end and parsed_end is None):
        return start, end, "Dates are YYYY-MM-DD, from 1900 to 2999; showing this month instead."
    start, end = parsed_start or start, parsed_end or end
    if start > end:
        error, start, end = "The start is after the end; showing this month instead.", today.replace(day=1), today
    if (end - start).days >= MAX_DAYS:
        error, start = (
            f"At most {MAX_DAYS} days at a time: showing the {MAX_DAYS} days up to {end}.",
            end - timedelta(days=MAX_DAYS - 1),
        )
    return start, end, error


@require_GET
def costs(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request)
    report = spending.report(start, end)
    context = {
        "start": start,
        "end": end,
        "period_error": error,
        "report": report,
        "chart": charts.spend_chart(report.days),
        "budget": Budget.objects.filter(user=request.user).first(),
        "spent": jobs.month_spend(request.user),
    }
    if request.user.is_staff:
        users = get_user_model().objects.order_by("username").select_related("budget")
        spent = spending.month_spend_by_owner()
        context["team"] = [(user, getattr(user, "budget", None), spent.get(user.pk, Decimal(0))) for user in users]
    return render(request, "studio/costs.html", context)


@require_GET
def costs_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The period's finished jobs, one a row, for a spreadsheet."""
    start, end, _ = _period(request)
    response = StreamingHttpResponse(spending.csv_lines(start, end), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="atelier-costs-{start}-to-{end}.csv"'
    return response


@require_POST
def budget_set(request: HttpRequest, user_id: int) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can set budgets.")
    user = get_object_or_404(get_user_model(), pk=user_id)
    raw = request.POST.get("monthly_usd", "").strip()
    if not raw:
        Budget.objects.filter(user=user).delete()
        messages.success(request, f"{user.get_username()} has no budget now.")
        return redirect("studio:costs")
    try:
        amount = Decimal(raw)
        if amount < 0 or amount > Decimal("99999999"):
            raise InvalidOperation
    except InvalidOperation:
        messages.error(request, f"“{raw}” is not an amount in USD, such as 25 or 12.50.")
        return redirect("studio:costs")
    Budget.objects.update_or_create(user=user, defaults={"monthly_usd": amount.quantize(Decimal("0.01"))})
    messages.success(request, f"{user.get_username()} may spend ${amount:.2f} a month.")
    return redirect("studio:costs")
