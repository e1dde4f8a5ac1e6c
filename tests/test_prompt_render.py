"""`PromptLibrary` reads `x.key` on a dict as the key at once: what an attribute of a dict
names stays the attribute, a missing key is still a missing variable, and templates are
compiled once per library."""

import pytest

from agentsim.llm.prompts import PromptError, PromptLibrary


def test_dict_keys_attributes_and_missing_keys(tmp_path):
    (tmp_path / "t.j2").write_text(
        "[user]\n{{ d.name }} {{ d['name'] }} {{ d.get('name') }} "
        "{{ d.items()|list|length }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
        " {{ o.real }}\n")
    (tmp_path / "missing.j2").write_text("[user]\n{{ d.nope }}\n")
    lib = PromptLibrary(tmp_path)
    msgs = lib.render("t", {"d": {"name": "Ann", "items": "x"}, "o": 3})
    # `d.items` is the dict's method, as Jinja always had it, whatever the keys
    assert msgs == ({"role": "user", "content": "Ann Ann Ann 2 name=Ann;items=x; 3"},)
    with pytest.raises(PromptError, match="missing variable"):
        lib.render("missing", {"d": {"name": "Ann"}})
    assert lib.render("t", {"d": {"name": "Bo"}, "o": 1})[0]["content"].startswith("Bo Bo")
    assert set(lib._templates) == {"t", "missing"}  # compiled once, kept by id
    with pytest.raises(PromptError, match="no such prompt template"):
        lib.render("absent", {})
