"""The costs page: the spend-per-day chart, the per-model and per-person tables, the CSV export,
and query counts that do not grow with the jobs or the team."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from studio import charts, spending
from studio.models import Budget
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}


def finished_job(owner, usd, when, **fields):
    fields.setdefault("model_id", "flux-schnell")
    return make_job(owner=owner, status="succeeded", cost=None if usd is None else Decimal(usd), finished_at=when,
                    **fields)  # fmt: skip


@pytest.fixture
def staff(client_for):
    return client_for(make_user(username="staff", is_staff=True))


def some_spend(user, other_user, copies=1):
    for _ in range(copies):
        finished_job(user, "0.2683", "2026-11-03T10:00Z", model_id="gpt-image-1.5")
        finished_job(user, "0.0500", "2026-11-03T11:00Z", model_id="midjourney-v7")
        finished_job(other_user, "0.0060", "2026-11-10T09:00Z")
        finished_job(other_user, None, "2026-11-12T09:00Z", model_id="a-model-someone-added")


def test_the_report_sums_per_day_model_and_person(user, other_user):
    some_spend(user, other_user)
    report = spending.report(date(2026, 11, 1), date(2026, 11, 30))
    assert len(report.days) == 30 and report.total == Decimal("0.3243") and report.unpriced == 1
    assert report.days[2].usd == Decimal("0.3183") and report.days[2].jobs == 2
    assert [(row.label, row.usd) for row in report.by_model][:2] == [
        ("GPT Image 1.5", Decimal("0.2683")),
        ("Midjourney v7", Decimal("0.0500")),
    ]
    unknown = next(row for row in report.by_model if row.key == "a-model-someone-added")
    assert unknown.unpriced == unknown.jobs == 1
    assert [(row.label, row.usd, row.unpriced) for row in report.by_person] == [
        ("alice", Decimal("0.3183"), 0),
        ("bob", Decimal("0.0060"), 1),
    ]


def test_the_page_shows_the_tables_and_marks_unknown_costs(alice, user, other_user):
    some_spend(user, other_user)
    html = alice.get(reverse("studio:costs"), NOVEMBER).content.decode()
    assert "<strong>$0.32</strong> spent" in html
    assert "1 job used models with no known price" in html
    assert re.search(r"<td>a-model-someone-added</td><td>1</td><td>unknown</td>", html)
    assert re.search(r"<td>bob</td><td>2</td><td>0.0060 <span class=\"muted\">\+ 1 unknown</span>", html)


def test_the_chart_is_an_accessible_svg_scaled_to_the_busiest_day(alice, user, other_user):
    some_spend(user, other_user)
    html = alice.get(reverse("studio:costs"), NOVEMBER).content.decode()
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img" aria-labelledby="spend-title spend-desc"' in svg
    assert '<title id="spend-title">Spend per day from 2026-11-01 to 2026-11-30</title>' in svg
    assert "the most was $0.3183, on Nov 3." in svg
    bars = re.findall(r'<rect class="chart-bar" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)">'
                      r"<title>([^<]+)</title>", svg)  # fmt: skip
    assert [label for _, _, label in bars] == ["Nov 3: $0.3183, 2 jobs", "Nov 10: $0.006, 1 job"]
    (top, tallest, _), (_, short, _) = bars
    assert float(top) == charts.PLOT_TOP and float(tallest) == charts.PLOT_BOTTOM - charts.PLOT_TOP
    assert float(short) == pytest.approx(float(tallest) * 0.006 / 0.3183, abs=0.01)
    dates = re.findall(r'text-anchor="(\w+)">([^<]+)</text>', svg)
    assert dates[0] == ("start", "Nov 1") and dates[-1] == ("end", "Nov 30") and len(dates) <= charts.AXIS_LABELS
    assert "style=" not in svg  # the Content-Security-Policy allows no inline styles


def test_an_empty_period_says_so():
    chart = charts.spend_chart(spending.report(date(2026, 2, 1), date(2026, 2, 28)).days)
    assert chart.bars == [] and chart.description == "Nothing was spent in these 28 days."


def test_a_very_long_period_is_cut_to_two_years(alice):
    response = alice.get(reverse("studio:costs"), {"start": "2000-01-01", "end": "2026-11-30"})
    assert "At most 731 days at a time" in response.content.decode()
    assert len(response.context["report"].days) == 731


def page_queries(client, django_assert_num_queries, expected):
    with django_assert_num_queries(expected):
        assert client.get(reverse("studio:costs"), NOVEMBER).status_code == 200


def test_the_page_takes_the_same_queries_for_more_jobs_and_people(staff, user, other_user, django_assert_num_queries):
    some_spend(user, other_user)
    Budget.objects.create(user=user, monthly_usd=Decimal("5"))
    # session, user; per day, model, person; own budget; own month (2); team (1) and its month (2)
    page_queries(staff, django_assert_num_queries, 11)
    some_spend(user, other_user, copies=5)
    for n in range(4):
        member = make_user(username=f"member{n}")
        make_job(owner=member, model_id="gpt-image-2")  # queued: its estimate counts this month
        Budget.objects.create(user=member, monthly_usd=Decimal("1"))
    page_queries(staff, django_assert_num_queries, 11)


def test_the_team_table_counts_queued_jobs_at_their_estimate(staff, user):
    params = {"width": 1024, "height": 1024, "quality": "high", "n": 2, "seed": 1, "options": {}}
    make_job(owner=user, model_id="gpt-image-2", params=params)
    html = staff.get(reverse("studio:costs")).content.decode()
    assert re.search(r'<td data-label="Who">alice</td><td data-label="This month">\$0.42</td>', html)


# --- CSV export ---------------------------------------------------------------------------------


def export(client, **query):
    response = client.get(reverse("studio:costs_csv"), {**NOVEMBER, **query})
    return response, list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_is_a_csv_download_of_the_periods_jobs(alice, user, other_user):
    some_spend(user, other_user)
    response, rows = export(alice)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="atelier-costs-2026-11-01-to-2026-11-30.csv"'
    assert rows[0] == list(spending.CSV_HEADER)
    assert [row[2:8] for row in rows[1:]] == [
        ["alice", "GPT Image 1.5", "gpt-image-1.5", "generate", "0", "0.2683"],
        ["alice", "Midjourney v7", "midjourney-v7", "generate", "0", "0.0500"],
        ["bob", "FLUX.1 [schnell]", "flux-schnell", "generate", "0", "0.0060"],
        ["bob", "a-model-someone-added", "a-model-someone-added", "generate", "0", ""],  # unknown: blank
    ]
    assert rows[1][0] == "2026-11-03T10:00:00+00:00"


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_cells_that_a_spreadsheet_would_run_are_prefixed(alice, text):
    finished_job(make_user(username=text), "0.01", "2026-11-05T10:00Z", prompt=text)
    _, rows = export(alice)
    assert rows[1][2] == "'" + text and rows[1][8] == "'" + text


def test_plain_text_is_left_alone():
    assert spending.safe_cell("a lighthouse = tall") == "a lighthouse = tall" and spending.safe_cell(None) == ""


def test_the_export_counts_images_and_takes_one_query(alice, user, django_assert_num_queries):
    from tests.factories import make_image

    for _ in range(3):
        job = finished_job(user, "0.05", "2026-11-05T10:00Z", model_id="midjourney-v7")
        for index in range(5):
            make_image(job, with_files=False, index=index)
    with django_assert_num_queries(3):  # session, user, the jobs
        _, rows = export(alice)
    assert [row[6] for row in rows[1:]] == ["5", "5", "5"]


def test_the_export_needs_a_login(client):
    assert client.get(reverse("studio:costs_csv")).status_code == 302
