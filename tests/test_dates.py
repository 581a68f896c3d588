import warnings
from datetime import datetime, timedelta, timezone

import pytest

from streams.pipeline.stages.dates import find_dateline, find_stamp, parse_stamp


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


@pytest.mark.parametrize("text, expected", [
    ("الجزائر في 14 جويلية 2023", utc(2023, 7, 14)),
    ("تونس، ٣ أوت ٢٠٢٢", utc(2022, 8, 3)),
    ("نشر يوم 21 جانفي 2024 على الساعة 10:15", utc(2024, 1, 21)),
    ("5 فيفري 2021", utc(2021, 2, 5)),
    ("١٢ أفريل ٢٠٢٠ - ١٤:٣٠", utc(2020, 4, 12, 14, 30)),
    ("30 جوان 2019", utc(2019, 6, 30)),
    ("الرباط 2 دجنبر 2020", utc(2020, 12, 2)),
])
def test_maghrebi_month_names_and_arabic_indic_digits(text, expected):
    assert find_dateline(text) == expected


def test_a_stated_zone_gives_utc_and_keeps_the_offset():
    assert find_stamp("الأحد، 04 آب/اغسطس 2013 02:21 (GMT+0400)") == (utc(2013, 8, 3, 22, 21), 240)
    assert find_stamp("24 نوفمبر 2016 15:32 GST") == (utc(2016, 11, 24, 11, 32), 240)
    assert find_stamp("24 نوفمبر 2016 15:32 بتوقيت") == (utc(2016, 11, 24, 15, 32), None)


def test_evening_and_morning_markers():
    assert find_dateline("تم نشره الجمعة 24 نيسان / أبريل 2020 09:22 مساءً") == utc(2020, 4, 24, 21, 22)
    assert find_dateline("الإثنين، 24 أغسطس 2020 09:23 ص") == utc(2020, 8, 24, 9, 23)


def test_an_updated_stamp_is_not_the_publication_when_both_exist():
    text = "آخر تحديث: 5 مارس 2024 10:00 — نشر في 3 مارس 2024 08:00"
    assert find_dateline(text) == utc(2024, 3, 3, 8, 0)
    assert find_dateline("Updated 5 March 2024 10:00. Published 3 March 2024") == utc(2024, 3, 3)
    assert find_dateline("آخر تحديث: 5 مارس 2024") == utc(2024, 3, 5)  # the only stamp: better than none


@pytest.mark.parametrize("zone, hours", [("GST", 4), ("AST", 3), ("EET", 2), ("EEST", 3), ("MSK", 3), ("CEST", 2)])
def test_named_zones_parse_without_dateutil_warnings(zone, hours):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = parse_stamp(f"2024-03-03 13:52:00 {zone}")
    assert found is not None and found.utcoffset() == timedelta(hours=hours)


def test_unknown_zone_and_non_dates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_stamp("2024-03-03 13:52:00 XYZT") is None
        assert parse_stamp("not a date") is None
    assert parse_stamp("٢٠٢٤-٠٣-٠٣T١٣:٥٢:٠٠+٠٤:٠٠") == datetime(2024, 3, 3, 9, 52, tzinfo=timezone.utc)


def test_stamps_that_are_not_full_dates_or_have_impossible_offsets_are_refused():
    for value in ("10:00 GST", "2024", "٢٠٢٤", "-1", "March 2024", "2024-03-03T10:00:00+99:00", None, ""):
        assert parse_stamp(value) is None, value


def test_gmt_plus_means_east_of_greenwich():
    assert parse_stamp("2024-03-03 10:00 UTC+5").utcoffset() == timedelta(hours=5)
    assert parse_stamp("Sun, 03 Mar 2024 10:00 GMT+0400").utcoffset() == timedelta(hours=4)
