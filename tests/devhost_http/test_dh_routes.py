import pytest

from devhost.http.routes import RouteError, RouteTable, compile_route


@pytest.mark.parametrize(("template", "path", "expected"), [
    ("copies", "copies", {}),
    ("copies", "Copies", {}),
    ("copies", "copies/x", None),
    ("items/{id}", "items/42", {"id": "42"}),
    ("items/{id:int}", "items/abc", None),
    ("items/{id:int}", "items/-7", {"id": "-7"}),
    ("items/{id:int?}", "items", {}),
    ("items/{id=5}", "items", {"id": "5"}),
    ("files/{*path}", "files/a/b/c", {"path": "a/b/c"}),
    ("files/{**path}", "files", {}),
    ("files/{*path=index.html}", "files", {"path": "index.html"}),
    ("n/{v:alpha:minlength(3)}", "n/ab", None),
    ("n/{v:alpha:minlength(3)}", "n/abc", {"v": "abc"}),
    ("n/{v:range(1,10)}", "n/11", None),
    ("n/{v:guid}", "n/0f8fad5b-d9cb-469f-a165-70867728950e", {"v": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("n/{v:bool}", "n/True", {"v": "True"}),
    ("n/{v:regex(^ab+$)}", "n/abbb", {"v": "abbb"}),
    ("n/{v:regex(^ab+$)}", "n/abc", None),
    ("n/{v:length(2,3)}", "n/abcd", None),
    ("n/{v}", "n/a%20b", {"v": "a b"}),
])
def test_match(template, path, expected):
    assert compile_route(template, None).match(path) == expected


@pytest.mark.parametrize(("template", "fragment"), [
    ("a//b", "empty segment"),
    ("a/{x}{y}", "unexpected"),
    ("a/x{y}", "one whole parameter"),
    ("a/{x:nope}", "unknown constraint"),
    ("a/{*x}/b", "catch-all"),
    ("a/{x}/{X}", "twice"),
    ("a/{x?}/b", "optional"),
])
def test_bad_templates(template, fragment):
    with pytest.raises(RouteError, match=fragment):
        compile_route(template, None)


def test_precedence_literal_before_parameter_before_catch_all():
    table: RouteTable[str] = RouteTable()
    table.add("items/{*rest}", "catch")
    table.add("items/{id}", "param")
    table.add("items/{id:int}", "int")
    table.add("items/new", "literal")
    assert table.find("GET", "items/new") == ("literal", {})
    assert table.find("GET", "items/5") == ("int", {"id": "5"})
    assert table.find("GET", "items/x") == ("param", {"id": "x"})
    assert table.find("GET", "items/x/y") == ("catch", {"rest": "x/y"})


def test_methods_restrict_matching():
    table: RouteTable[str] = RouteTable()
    table.add("copies", "post-only", ["POST"])
    assert table.find("POST", "copies") == ("post-only", {})
    assert table.find("GET", "copies") is None
