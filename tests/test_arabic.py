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


# --- Arabic presentation forms (U+FB50-U+FDFF, U+FE70-U+FEFF) ---------------------------------------------------

PRESENTATION_LAVROV = "ﻻﻓﺮﻭﻑ"  # لافروف in presentation forms: the lam-alef ligature and contextual shapes


def _forms():
    import unicodedata

    for code in [*range(0xFB50, 0xFE00), *range(0xFE70, 0xFF00)]:
        ch = chr(code)
        if unicodedata.normalize("NFKC", ch) != ch:
            yield ch, unicodedata.normalize("NFKC", ch)


def test_presentation_forms_fold_to_the_base_letters_of_their_nfkc():
    forms = list(_forms())
    assert len(forms) > 700
    for ch, decomposed in forms:
        letters = decomposed.lstrip(" \u0640")
        expected = normalize(decomposed) if normalize(letters) else ""  # a vowel mark's isolated form is a mark
        assert normalize(ch) == expected, hex(ord(ch))
        assert normalize("قال " + ch + " امس") == "قال " + expected + " امس", hex(ord(ch))
    assert normalize(PRESENTATION_LAVROV) == "لافروف"
    assert normalize("ﺃﺣﻤﺪ ﷲ ﹰ") == "احمد الله "


@pytest.mark.parametrize("repeat", [1, 40])  # short texts take the regex, long ones (256+ characters) the table
def test_presentation_form_offsets_point_at_the_form(repeat):
    text = ("قالَ ﺳﻴﺮﻏﻲ " + PRESENTATION_LAVROV + "ُ، ولـﻼﻓﺮﻭﻑ ﷲ ﹰ. ") * repeat
    norm, index = normalize_with_map(text)
    assert norm == normalize(text) == ("قال سيرغي لافروف, وللافروف الله . ") * repeat
    assert len(index) == len(norm) and list(index) == sorted(index)
    for n, ch in enumerate(norm):  # each normalized letter comes from the original character it maps to
        assert ch in normalize(text[index[n]]), (n, ch, text[index[n]])
    start = norm.index("لافروف")
    assert text[index[start]:index[start + 5] + 1] == PRESENTATION_LAVROV


def test_lavrov_in_presentation_forms_is_found_as_often_as_in_base_letters(dictionary):
    """A page written in presentation forms names Lavrov 17 times, with clitics and his first name: each is found,
    as in the same page in base letters, and each surface is the original (presentation-form) text."""
    from streams.pipeline.stages.entities import extract_mentions

    sentence = ("قال وزير الخارجية الروسي سيرغي لافروف إن موسكو، وأضاف لافروف أن ولافروف ولِلافروف "
                "وبلافروف التقى بوتين. ")
    base = sentence * 3 + "لافروف لافروف."
    shaped = (base.replace("سيرغي", "ﺳﻴﺮﻏﻲ").replace("لافروف", PRESENTATION_LAVROV)
              .replace("وزير", "ﻭﺯﻳﺮ").replace("بوتين", "ﺑﻮﺗﻴﻦ"))
    want = [m.actor_id for m in extract_mentions(base, dictionary)]
    got = extract_mentions(shaped, dictionary)
    assert want.count("sergey-lavrov") == 17
    assert [m.actor_id for m in got] == want
    for m in got:
        assert normalize(shaped[m.start:m.end]) == normalize(m.surface) and m.surface == shaped[m.start:m.end]
        assert "ﻓﺮﻭﻑ" in m.surface or m.actor_id != "sergey-lavrov"
