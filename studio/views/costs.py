"""Spend per user and per model for a period, and monthly budgets (set by staff)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from studio import catalog, jobs, params
from studio.models import Budget, Job


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
    return start, end, error


@require_GET
def costs(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request)
    tz = timezone.get_current_timezone()
    window = (datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz))
    done = Job.objects.filter(jobs.PAID, finished_at__gte=window[0], finished_at__lt=window[1])
    by_user = done.values("owner__username").annotate(total=Sum("cost"), jobs=Count("id")).order_by("-total")
    by_model = done.values("model_id").annotate(total=Sum("cost"), jobs=Count("id")).order_by("-total")
    for row in by_model:
        model = catalog.get_model(row["model_id"])
        row["label"] = model.label if model else row["model_id"]
    budget = Budget.objects.filter(user=request.user).first()
    context = {
        "start": start,
        "end": end,
        "period_error": error,
        "by_user": by_user,
        "by_model": by_model,
        "total": done.aggregate(total=Sum("cost"))["total"] or Decimal(0),
        "unpriced": done.filter(cost__isnull=True).count(),
        "budget": budget,
        "spent": jobs.month_spend(request.user),
    }
    if request.user.is_staff:
        users = get_user_model().objects.order_by("username").select_related("budget")
        context["team"] = [(user, getattr(user, "budget", None), jobs.month_spend(user)) for user in users]
    return render(request, "studio/costs.html", context)


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
