"""UO-ISC's answer-match rules, on hand-made answer pairs (no model involved)."""

import pytest

from semcodec.answer_match import answers_match, first_number, normalize, question_type, similarity


@pytest.mark.parametrize("question,kind", [
    ("How many dogs are there?", "count"), ("Is the cat black?", "yes/no"), ("Could it rain?", "yes/no"),
    ("Where is the ball?", "where"), ("What colour is the dog's collar?", "other"), ("", "other"),
])
def test_question_types(question, kind):
    assert question_type(question) == kind


def test_normalize_drops_case_punctuation_and_articles_but_keeps_decimals():
    assert normalize("The Dog, on a MAT!") == "dog on mat"
    assert normalize("It is 2.5 m.") == "it is 2.5 m"
    assert first_number("about three") == 3 and first_number("2.5 metres") == 2.5 and first_number("none") is None


@pytest.mark.parametrize("a,b,match", [("two", "2", True), ("There are 2 dogs.", "two", True),
                                       ("3", "two", False), ("none", "none", False)])
def test_count_questions_compare_the_first_number(a, b, match):
    assert answers_match("How many dogs are there?", a, b) is match


@pytest.mark.parametrize("a,b,match", [("Yes, it is red.", "yes", True), ("no", "No, it is not.", True),
                                       ("yes", "no", False), ("yes", "", False)])
def test_yes_no_questions_compare_the_first_word(a, b, match):
    assert answers_match("Is the collar red?", a, b) is match


@pytest.mark.parametrize("a,b,match", [("on the table", "table", True), ("in the kitchen", "kitchen sink", False),
                                       ("on the sofa", "on the sofas", True), ("", "table", False)])
def test_where_questions_match_by_containment_or_similarity(a, b, match):
    assert answers_match("Where is the ball?", a, b) is match


def test_open_questions_match_just_above_and_not_just_below_the_threshold():
    above = ("abcdefg", "abcdefx")  # ratio 12/14 = 0.857
    below = ("abcdefghijklmnopqrs", "abcdefghijklmnopxyz")  # ratio 32/38 = 0.842
    assert similarity(*above) == pytest.approx(0.857, abs=1e-3) and answers_match("What is it?", *above)
    assert similarity(*below) == pytest.approx(0.842, abs=1e-3) and not answers_match("What is it?", *below)
    assert answers_match("What colour is it?", "Red.", "red")
