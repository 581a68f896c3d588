import pytest

from streams.pipeline.arabic import fingerprint_text, normalize, normalize_with_map


@pytest.mark.parametrize(
    "text, expected",
    [
        ("أحمد إبراهيم آمال ٱلله", "احمد ابراهيم امال الله"),  # alef forms
        ("مصطفى", "مصطفي"),  # alef maqsura -> ya
        ("الحكومة", "الحكومه"),  # ta marbuta -> ha
        ("مؤتمر رئيس", "موتمر رييس"),  # hamza seats
        ("لافروفُ", "لافروف"),  # diacritics
        ("لافـــروف", "لافروف"),  # tatweel
        ("کیری", "كيري"),  # Persian kaf and ya
        ("٢٠١٦ ۲۰۱۶", "2016 2016"),  # Arabic-Indic and Persian digits
        ("«قال» “هنا”", '"قال" "هنا"'),  # quote styles
        ("Lavrov", "lavrov"),
    ],
)
def test_normalization_rules(text, expected):
    assert normalize(text) == expected


def test_offset_map_points_at_original_characters():
    text = "قالَ لافـروفُ"
    norm, index = normalize_with_map(text)
    assert norm == "قال لافروف"
    start = norm.index("لافروف")
    assert text[index[start]:index[start + 5] + 1] == "لافـروفُ"[:-1]


def test_fingerprint_ignores_punctuation_spacing_and_diacritics():
    assert fingerprint_text("قال لافروفُ،   إن «الهدنة»") == fingerprint_text("قال لافروف إن الهدنه")


def test_slow_path_for_latin_combining_marks_keeps_offsets():
    text = "Cafe\u0301 وقال لافروفُ"  # a combining acute accent takes the character-by-character path
    norm, index = normalize_with_map(text)
    assert norm == "cafe وقال لافروف" and len(index) == len(norm)
    assert text[index[norm.index("لافروف")]:].startswith("لافروف")
    assert normalize(text) == norm


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ٲ ٳ", "ا ا"),  # rarer alef-hamza forms
        ("رئيس هيئة", "رييس هييه"),  # hamza on ya seat
        ("گ ڪ", "ك ك"),  # Persian gaf and swash kaf
        ("ې ۀ ہ ھ", "ي ه ه ه"),  # Urdu/Pashto ya and ha forms
        ("٪٥ ٣٫٥ ١٬٠٠٠", "%5 3.5 1,000"),  # Arabic percent, decimal and thousands separators
        ("قال، ثم؛ لماذا؟ انتهى۔", "قال, ثم; لماذا? انتهي."),  # Arabic and Urdu punctuation
        ("„x“ ‚y‘ ‹z›", '"x" \'y\' \'z\''),  # low and angled quotes
        ("لاَفْرُوفٌ", "لافروف"),  # every harakat mark, tanwin included
        ("بوتين\u200c\u200f", "بوتين"),  # zero-width joiners and direction marks
        ("قال\u00a0لافروف", "قال لافروف"),  # no-break space
    ],
)
def test_more_normalization_rules(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["", "لافروف", "لافروفُ", "ـلاَفْـرُوفٌ قالَ", "\u200fقال\u200f", "abc"])
def test_offset_map_equals_the_per_character_map(text):
    norm, index = normalize_with_map(text)
    expected = [i for i, ch in enumerate(text) if normalize(ch)]
    assert len(index) == len(norm) == len(expected)
    assert list(index) == expected
    assert index[-1:] == expected[-1:]
