from datetime import datetime, timezone

import pytest

from streams.stages.dates import find_dateline


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("الخميس 24 نوفمبر/تشرين الثاني 2016 15:32", utc(2016, 11, 24, 15, 32)),
        ("موسكو| الاثنين 3 تشرين الأول 2016", utc(2016, 10, 3)),
        ("نشر في 9 أيلول 2016", utc(2016, 9, 9)),
        ("القاهرة - 12 يناير 2017", utc(2017, 1, 12)),
        ("١٥ شباط ٢٠١٦", utc(2016, 2, 15)),
        ("2 آب 2015", utc(2015, 8, 2)),
        ("Geneva, 9 September 2016", utc(2016, 9, 9)),
    ],
)
def test_arabic_datelines_both_month_systems(text, expected):
    assert find_dateline(text) == expected


def test_no_date_and_impossible_dates():
    assert find_dateline("قال لافروف إن الهدنة ممكنة") is None
    assert find_dateline("31 شباط 2016") is None


def test_future_dates_rejected_when_fetch_time_known():
    assert find_dateline("12 يناير 2030 ثم 3 أيار 2016", not_after=utc(2020, 1, 1)) == utc(2016, 5, 3)
