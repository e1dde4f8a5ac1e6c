# The team's tests for word_count. They run in the skill sandbox, after the module's code and
# in the same namespace (so they call word_count directly, without an import).


def test_empty_text():
    assert word_count("") == {}


def test_one_word():
    assert word_count("hello") == {"hello": 1}


def test_repeated_words():
    assert word_count("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_case_is_ignored():
    assert word_count("Go go GO") == {"go": 3}


def test_punctuation_is_not_part_of_a_word():
    assert word_count("Stop! Stop, thief.") == {"stop": 2, "thief": 1}


def test_spaces_tabs_and_newlines_separate_words():
    assert word_count("a  b\tc\nA") == {"a": 2, "b": 1, "c": 1}


def test_apostrophes_inside_a_word_are_kept():
    assert word_count("don't stop, don't") == {"don't": 2, "stop": 1}


def test_digits_are_not_words():
    assert word_count("3 blind mice") == {"blind": 1, "mice": 1}
