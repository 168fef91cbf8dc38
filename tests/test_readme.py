"""The README documents what the code does: its settings table is the settings registry, its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from ferry.errors import KINDS
from ferry.settings import settings_markdown

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_settings_table_is_the_settings_registry() -> None:
    table = README.split("<!-- settings-table:", 1)[1].split("-->", 1)[1].split("<!-- end settings-table -->")[0]
    assert table.strip() == settings_markdown().strip(), (
        "README settings table differs from ferry.settings.SETTINGS: paste settings_markdown() into README.md")


def test_every_error_kind_is_explained() -> None:
    section = README.split("## Errors and what to do", 1)[1].split("\n## ", 1)[0]
    assert {kind for kind in KINDS if f"| `{kind}` |" not in section} == set()


def test_relative_links_resolve() -> None:
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", README):
        assert (REPO / target).exists(), f"README links to missing {target}"


def test_make_targets_named_in_the_readme_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"`make (\w+)`", README)):
        assert re.search(rf"^{target}:", makefile, re.M), f"README names `make {target}`, the Makefile has none"
