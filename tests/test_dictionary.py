"""The actor dictionary as data: several files, dated roles, and a review that finds alias collisions."""

import os

import pytest
from stopwordsiso import stopwords
from wordfreq import top_n_list

from streams.pipeline.dictionary import ActorDictionary, DictionaryWatcher, alias_problems, dictionary_files
from streams.pipeline.arabic import normalize
from streams.ops.catalog import add_actor
from streams.pipeline.stages.entities import extract_mentions

# Function words never make a name; the 2,000 most frequent Arabic words (names the press uses daily among them)
# may, but only when the entry says so in common_word_aliases.
ARABIC_STOPWORDS = frozenset(normalize(w) for w in stopwords("ar"))
COMMON_ARABIC = frozenset(normalize(w) for w in top_n_list("ar", 2000))

BASE = """version: t
actors:
- id: bashar-al-assad
  name: Bashar al-Assad
  type: person
  country: SY
  aliases: {ar: ["بشار الأسد"]}
  short: {ar: ["الأسد"]}
  common_word_aliases: ["الأسد"]
"""
OTHER = """actors:
- id: hafez-al-assad
  name: Hafez al-Assad
  type: person
  country: SY
  aliases: {ar: ["حافظ الأسد"]}
  short: {ar: ["الأسد"]}
  common_word_aliases: ["الأسد"]
  roles:
  - {title: President of Syria, country: SY, from: 1971-03-14, to: 2000-06-10}
"""


def entry(extra: str, actor_id: str = "x-person", alias: str = "زيد عمرو") -> str:
    return f"""actors:
- id: {actor_id}
  name: X Person
  type: person
  aliases: {{ar: ["{alias}"]}}
{extra}"""


def write(directory, **files):
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    return directory


def problems(d: ActorDictionary) -> list[str]:
    return alias_problems(d, ARABIC_STOPWORDS, COMMON_ARABIC)


def test_bundled_dictionary_is_several_files_and_reviewed_clean(dictionary):
    files = dictionary_files()
    assert files[0].name == "actors.yaml" and len(files) > 1
    assert set(dictionary.files) == set(files)
    assert {a.source for a in dictionary.actors.values()} == {str(f) for f in files}
    found = problems(dictionary)
    assert not found, f"{len(found)} dictionary problem(s):\n" + "\n".join(found[:200])


def test_bundled_dictionary_has_dated_roles(dictionary):
    hafez = dictionary.actors["hafez-al-assad"]
    assert any(r.title == "President of Syria" and r.start.startswith("1971") and r.end.startswith("2000")
               for r in hafez.roles)
    assert sum(1 for a in dictionary.actors.values() if a.roles) >= 850


def test_a_directory_loads_all_its_files_and_the_version_covers_each(tmp_path):
    root = write(tmp_path / "dict", a=BASE, b=OTHER)
    (root / ".actors-edit.yaml").write_text("broken: [", encoding="utf-8")  # an edit in progress is not read
    d = ActorDictionary.load(root)
    assert set(d.actors) == {"bashar-al-assad", "hafez-al-assad"}
    assert d.actors["hafez-al-assad"].roles[0].start == "1971-03-14"
    assert d.actors["hafez-al-assad"].source == str(root / "b.yaml")
    first = d.version
    (root / "b.yaml").write_text(OTHER.replace("1971-03-14", "1971-03-12"), encoding="utf-8")
    assert ActorDictionary.load(root).version != first


def test_a_shared_short_form_across_files_still_resolves_by_the_full_name(tmp_path):
    d = ActorDictionary.load(write(tmp_path / "dict", a=BASE, b=OTHER))
    found = extract_mentions("قال حافظ الأسد إن الأسد سيبقى", d)
    assert [m.actor_id for m in found] == ["hafez-al-assad", "hafez-al-assad"]
    assert problems(d) == []


def test_duplicate_id_across_files_names_both_files(tmp_path):
    root = write(tmp_path / "dict", a=BASE, b=BASE.replace("version: t\n", ""))
    with pytest.raises(ValueError, match=r"b\.yaml: actor id 'bashar-al-assad' is listed twice \(also in .*a\.yaml\)"):
        ActorDictionary.load(root)


def test_a_full_alias_collision_is_found_with_file_entry_and_alias(tmp_path):
    root = write(tmp_path / "dict", a=BASE, b=entry("", "other-bashar", "بشار الاسد"))
    found = problems(ActorDictionary.load(root))
    assert len(found) == 2
    assert any(str(root / "b.yaml") in p and "other-bashar" in p and "'بشار الاسد'" in p
               and "bashar-al-assad" in p for p in found)


def test_a_name_whose_al_is_not_an_article_does_not_make_another_name_ambiguous(tmp_path):
    # ألباريس (Albares) without "its article" is باريس, Paris's name: Paris keeps its name, Albares his.
    paris = 'actors:\n- id: paris\n  name: Paris\n  type: location\n  aliases: {ar: ["باريس"]}\n'
    albares = entry('  short: {ar: ["ألباريس"]}\n', "jose-manuel-albares", "خوسيه مانويل ألباريس")
    for first, second in ((paris, albares), (albares, paris)):  # whichever file comes first
        d = ActorDictionary.load(write(tmp_path / f"d{len(first)}", a=first, b=second), cache_dir=None)
        assert [m.actor_id for m in extract_mentions("وصل ألباريس إلى باريس ثم غادر للباريس", d)] == [
            "jose-manuel-albares", "paris"]
        assert problems(d) == []


def test_names_without_their_article_still_collide_with_each_other(tmp_path):
    # الأمين (a full alias) and الأمين (another's full alias) collide; so do their article-less keys.
    one = entry("", "one", "الأمين")
    two = entry("", "two", "الامين").replace("X Person", "Y Person")
    found = problems(ActorDictionary.load(write(tmp_path / "dict", a=one, b=two), cache_dir=None))
    assert any("one:" in p and "'الأمين'" in p for p in found) and any("two:" in p for p in found)


def test_a_declared_shared_alias_is_accepted(tmp_path):
    twin = BASE.replace("bashar-al-assad", "bashar-twin").replace("Bashar al-Assad", "Bashar Twin").replace("version: t\n", "")
    root = write(tmp_path / "dict", a=BASE, b=twin)
    assert any("'بشار الأسد'" in p for p in problems(ActorDictionary.load(root)))
    both = lambda text: text.replace("  short:", '  shared_aliases: ["بشار الأسد"]\n  short:')  # noqa: E731
    root = write(tmp_path / "dict2", a=both(BASE), b=both(twin))
    assert problems(ActorDictionary.load(root)) == []


def test_function_words_and_common_words_are_refused_as_names(tmp_path):
    root = write(tmp_path / "dict", a=entry('  short: {ar: ["الذي"]}\n'))
    assert any("'الذي' is an Arabic function word" in p for p in problems(ActorDictionary.load(root)))
    root = write(tmp_path / "dict2", a=entry('  short: {ar: ["محمد"]}\n'))
    assert any("'محمد' is a very common Arabic word" in p for p in problems(ActorDictionary.load(root)))
    without_declaration = BASE.replace('  common_word_aliases: ["الأسد"]\n', "")
    root = write(tmp_path / "dict3", a=without_declaration)
    assert any("'الأسد' is a very common Arabic word" in p for p in problems(ActorDictionary.load(root)))


@pytest.mark.parametrize("role, error", [
    ("{title: Minister, from: 2014-13}", "date '2014-13' is not YYYY"),
    ("{title: Minister, from: '2014-02-30'}", "date '2014-02-30' is not YYYY"),
    ("{title: Minister, from: 'last year'}", "is not YYYY"),
    ("{title: Minister, from: 2016, to: 2015}", r"roles\[0\] \(Minister\): from 2016 is after to 2015"),
    ("{title: Minister, from: 2016-05, to: 2016-04-30}", "from 2016-05 is after to 2016-04-30"),
    ("{title: Minister, country: Syria}", "country must be an ISO 3166-1 alpha-2 code"),
    ("{country: SY}", "title is required"),
    ("{title: Minister, since: 2010}", "unknown field"),
    ("{title: Minister, from: 2014-06-08T10:00:00}", "is not YYYY"),
    ("{title: Minister, from: true}", "is not YYYY"),
])
def test_malformed_roles_are_refused_naming_file_and_entry(tmp_path, role, error):
    path = tmp_path / "a.yaml"
    path.write_text(entry(f"  roles:\n  - {role}\n"), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"a\.yaml: actor 'x-person': .*{error}"):
        ActorDictionary.load(path)


def test_role_periods_compare_by_their_extent(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(entry("  roles:\n  - {title: A, from: 2016-05, to: 2016}\n  - {title: B, from: 2016, to: null}\n"),
                    encoding="utf-8")
    roles = ActorDictionary.load(path).actors["x-person"].roles
    assert [(r.start, r.end) for r in roles] == [("2016-05", "2016"), ("2016", None)]


def test_a_declaration_must_name_a_listed_alias(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(entry('  shared_aliases: ["عمرو زيد"]\n'), encoding="utf-8")
    with pytest.raises(ValueError, match="must also be listed"):
        ActorDictionary.load(path)


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such actor dictionary"):
        ActorDictionary.load(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no \\*.yaml actor dictionary files"):
        ActorDictionary.load(tmp_path / "empty")


def test_watcher_notices_a_change_in_any_file_and_a_new_file(tmp_path):
    root = write(tmp_path / "dict", a=BASE)
    watcher = DictionaryWatcher(root, interval=0)
    assert set(watcher.current().actors) == {"bashar-al-assad"}
    write(root, b=OTHER)
    assert "hafez-al-assad" in watcher.current().actors
    (root / "b.yaml").write_text(OTHER + entry("").replace("actors:\n", ""), encoding="utf-8")
    os.utime(root / "b.yaml", ns=(1, 10**18))
    assert "x-person" in watcher.current().actors
    (root / "b.yaml").write_text("actors: [ {broken", encoding="utf-8")
    os.utime(root / "b.yaml", ns=(1, 2 * 10**18))
    assert "x-person" in watcher.current().actors  # the last good dictionary is kept


def test_add_into_a_directory_writes_its_actors_yaml_and_checks_every_file(tmp_path):
    root = write(tmp_path / "dict", regional=OTHER)
    before = (root / "regional.yaml").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="already belongs to 'hafez-al-assad'"):
        add_actor({"id": "h2", "name": "H Two", "type": "person", "aliases": {"ar": ["حافظ الاسد"]}}, root)
    assert not (root / "actors.yaml").exists()
    d = add_actor({"id": "john-kerry", "name": "John Kerry", "type": "person", "aliases": {"ar": ["جون كيري"]}}, root)
    assert set(d.actors) == {"hafez-al-assad", "john-kerry"}
    assert "john-kerry" in (root / "actors.yaml").read_text(encoding="utf-8")
    assert (root / "regional.yaml").read_text(encoding="utf-8") == before
    umask = os.umask(0)
    os.umask(umask)
    assert (root / "actors.yaml").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private mode
    (root / "actors.yaml").chmod(0o640)
    d = add_actor({"id": "x-y", "name": "X Y", "type": "person", "aliases": {"ar": ["س ص"]}}, root)
    assert len(d.actors) == 3 and not list(root.glob(".actors-*"))
    assert (root / "actors.yaml").stat().st_mode & 0o777 == 0o640


def test_the_compiled_dictionary_is_cached_by_content_and_recompiled_on_change(tmp_path, monkeypatch):
    import streams.pipeline.dictionary as actors_module

    root = write(tmp_path / "dict", a=BASE, b=OTHER)
    cache = tmp_path / "cache"
    first = ActorDictionary.load(root, cache_dir=cache)
    assert len(list(cache.glob("actors-*.pickle"))) == 1

    def no_compile(raws):
        raise AssertionError("compiled although cached")
    with monkeypatch.context() as m:
        m.setattr(actors_module, "_compile", no_compile)
        again = ActorDictionary.load(root, cache_dir=cache)
    assert again.version == first.version and set(again.actors) == set(first.actors)
    assert again.files == first.files and again.actors["hafez-al-assad"].roles == first.actors["hafez-al-assad"].roles
    assert [m.actor_id for m in extract_mentions("قال حافظ الأسد", again)] == ["hafez-al-assad"]

    write(root, b=OTHER + entry("").replace("actors:\n", ""))
    changed = ActorDictionary.load(root, cache_dir=cache)
    assert "x-person" in changed.actors and changed.version != first.version
    assert len(list(cache.glob("actors-*.pickle"))) == 2


def test_a_broken_or_foreign_cache_file_is_not_trusted(tmp_path, monkeypatch):
    import streams.pipeline.dictionary as actors_module

    root = write(tmp_path / "dict", a=BASE)
    cache = tmp_path / "cache"
    ActorDictionary.load(root, cache_dir=cache)
    [cached] = cache.glob("actors-*.pickle")
    cached.write_bytes(b"not a pickle")
    assert set(ActorDictionary.load(root, cache_dir=cache).actors) == {"bashar-al-assad"}
    assert cached.read_bytes() != b"not a pickle"  # rewritten

    calls = []
    real = actors_module._compile
    monkeypatch.setattr(actors_module, "_compile", lambda raws: calls.append(1) or real(raws))
    cached.chmod(0o666)  # writable by others: someone else could have put code in it
    ActorDictionary.load(root, cache_dir=cache)
    assert calls == [1]
    ActorDictionary.load(root, cache_dir=None)
    assert calls == [1, 1]


def test_a_cache_folder_others_may_write_is_not_read_and_a_warning_says_why(tmp_path, caplog):
    root = write(tmp_path / "dict", a=BASE)
    cache = tmp_path / "cache"
    ActorDictionary.load(root, cache_dir=cache)
    cache.chmod(0o777)
    with caplog.at_level("WARNING", logger="newsstream"):
        assert set(ActorDictionary.load(root, cache_dir=cache).actors) == {"bashar-al-assad"}
    assert "not read: the folder is writable by others" in caplog.text and "chmod go-w" in caplog.text
    cache.chmod(0o700)
    caplog.clear()
    with caplog.at_level("WARNING", logger="newsstream"):
        ActorDictionary.load(root, cache_dir=cache)
    assert "not read" not in caplog.text


def test_no_cache_dir_writes_nothing(tmp_path):
    root = write(tmp_path / "dict", a=BASE)
    ActorDictionary.load(root, cache_dir=None)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.yaml", "dict"]


def test_a_bad_dictionary_path_is_one_line_from_the_cli(tmp_path, monkeypatch, capsys):
    from streams.cli import commands as cli

    page = tmp_path / "page.html"
    page.write_text("<html><body><p>نص</p></body></html>", encoding="utf-8")
    monkeypatch.setenv("NEWSSTREAM_ACTORS_PATH", str(tmp_path / "missing"))
    assert cli.main(["process", "--out", str(tmp_path / "out.jsonl"), str(page)]) == 2
    assert capsys.readouterr().err == f"newsstream: {tmp_path / 'missing'}: no such actor dictionary file or directory\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(entry("  roles:\n  - {title: Minister, from: 2016, to: 2015}\n"), encoding="utf-8")
    monkeypatch.setenv("NEWSSTREAM_ACTORS_PATH", str(bad))
    assert cli.main(["process", "--out", str(tmp_path / "out.jsonl"), str(page)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.yaml: actor 'x-person': roles[0] (Minister): from 2016 is after to 2015" in err
