from datetime import datetime, timezone

from schemas.records import Article
from streams.stages.stories import StoryIndex, assign_story


def article(article_id, fingerprint):
    return Article(article_id=article_id, source="t", url=None, canonical_url=None, site="s", title="t", text="t",
                   lang="ar", published_at=datetime(2016, 11, 24, tzinfo=timezone.utc), published_source="metadata",
                   fetched_at=None, charset="utf-8", fingerprint=fingerprint)


def test_first_article_founds_its_story():
    index = StoryIndex()
    a = assign_story(article("a", "f1"), index)
    assert (a.story_id, a.duplicate_of) == ("a", None)


def test_same_body_on_another_url_is_a_copy():
    index = StoryIndex()
    assign_story(article("a", "f1"), index)
    b = assign_story(article("b", "f1"), index)
    assert (b.story_id, b.duplicate_of) == ("a", "a")
    c = assign_story(article("c", "f2"), index)
    assert (c.story_id, c.duplicate_of) == ("c", None)


def test_redelivery_gets_the_same_answer_as_the_first_time():
    index = StoryIndex()
    assign_story(article("a", "f1"), index)
    first = assign_story(article("b", "f1"), index)
    assert assign_story(article("b", "f1"), index) == first
    assert assign_story(article("a", "f1"), index).duplicate_of is None


def test_index_is_bounded_and_evicts_the_oldest():
    index = StoryIndex(max_entries=2)
    for i in range(3):
        assign_story(article(f"a{i}", f"f{i}"), index)
    assert list(index.by_article) == ["a1", "a2"] and list(index.by_fingerprint) == ["f1", "f2"]


def test_a_changed_copy_of_a_stored_article_is_dropped_with_its_reason():
    import pytest

    from streams.stages import Rejected

    index = StoryIndex()
    assign_story(article("a", "f1"), index)
    with pytest.raises(Rejected) as rejected:
        assign_story(article("a", "f2"), index)
    assert rejected.value.reason == "changed copy"
    assert assign_story(article("a", "f1"), index).story_id == "a", "the first version still stands"
