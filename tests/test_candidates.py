"""Discovery of persons the dictionary lacks, on sentences taken from the seed articles."""

from pathlib import Path

import pytest

from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.charset import decode_html
from streams.pipeline.stages.entities import extract_mentions
from tests.conftest import CORPUS

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def candidates(text, dictionary):
    return [(c.actor_id, c.surface) for c in find_candidates(text, extract_mentions(text, dictionary))]


@pytest.mark.parametrize("sentence, expected", [
    # seed 000: title + nationality adjective + three-word name, with a clitic on the title
    ("في معرض إجابته عن سؤال حول التصريحات الأخيرة لوزير الخارجية الفرنسي جان مارك أيرولت، الذي دعا إلى إدانة",
     [("candidate:جان مارك ايرولت", "جان مارك أيرولت")]),
    # seed 003: نظيره + adjective; وزير الخارجية + adjective
    ("مباحثات وزير الخارجية الروسي سيرغي لافروف مع نظيره السوري وليد المعلم في موسكو يوم 26 الجاري",
     [("candidate:وليد المعلم", "وليد المعلم")]),
    ("كما أن العاصمة الروسية ستستقبل وزير الخارجية السوري وليد المعلم في الـ26 من الحالي.",
     [("candidate:وليد المعلم", "وليد المعلم")]),
    # seed 004, then the surname alone counts for the same candidate
    ("أكد وزير الخارجية الروسي سيرغي لافروف خلال لقائه نظيره الفرنسي جان إيف لودريان في موسكو. ومن جهته، قال لودريان",
     [("candidate:جان ايف لودريان", "جان إيف لودريان"), ("candidate:جان ايف لودريان", "لودريان")]),
    # seed 002
    ("خلال مؤتمر صحفي مشترك مع نظيره الفلسطيني رياض المالكي في موسكو، الأربعاء",
     [("candidate:رياض المالكي", "رياض المالكي")]),
    ("وذكر رئيس الوزراء الإسرائيلي بنيامين نتنياهو، أن", [("candidate:بنيامين نتنياهو", "بنيامين نتنياهو")]),
    ("التقى المبعوث الأممي إلى سوريا ستيفان دي ميستورا في جنيف", [("candidate:ستيفان دي ميستورا", "ستيفان دي ميستورا")]),
    ("Russian Foreign Minister Sergei Lavrov met Secretary of State John Kerry in Geneva.",
     [("candidate:john kerry", "John Kerry")]),
])
def test_titles_followed_by_an_unknown_name_are_candidates(sentence, expected, small_dictionary):
    assert candidates(sentence, small_dictionary) == expected


@pytest.mark.parametrize("sentence", [
    "وأشار وزير الخارجية الروسي إن الجولة السادسة لمباحثات أستانة ستبدأ",  # seed 004: a verb after the title
    "وقال وزير الخارجية الروسي إن روسيا مستعدة للتعاون مع الدول الإسلامية",  # seed 002
    "إذ بحث وزير الخارجية سيرغي لافروف في السابع من الشهر الجاري مع معاذ الخطيب الرئيس السابق للائتلاف السوري",
    "عن عقد اجتماع للمجموعة \"أصدقاء دي ميستورا\" المبعوث الأممي إلى سوريا تحضيرا لجنيف 3.",  # seed 003
    "وبحث لافروف مع نظيره الفلسطيني تناول تردي الأوضاع",  # a verb right after the title
    "\"حمقى ومغفلون\".. وزير الداخلية السوري يوجه تحذيرا أخيرا لفلول النظام السابق",  # a headline: no boundary
    "وأضاف الرئيس الروسي في كلمة ألقاها أمس",
    "الرئيس الفرنسي يدين الهجوم",  # a headline verb, then a noun
    "رئيسة الوزراء البريطانية تؤكد التزام بلادها",
    "وقال الرئيس السوري بشار الأسد، إن",  # known actor: a mention, not a candidate
    "The President said on Monday that the Minister of Defence would travel.",
])
def test_common_words_and_known_actors_after_a_title_are_not_candidates(sentence, small_dictionary):
    assert candidates(sentence, small_dictionary) == []


def test_the_bundled_dictionary_leaves_no_junk_candidates_on_the_seed_pages(dictionary):
    """The seed pages as text, chrome included: every person after a title there is in the dictionary."""
    pages = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    # Without ../shared (a bare clone), the corpus pages made from the seeds; some are windows-1256.
    texts = [p.read_text("utf-8") for p in pages] or [decode_html(p.read_bytes())[0] for p in sorted(CORPUS.glob("*.html"))]
    for text in texts:
        assert candidates(text, dictionary) == []
