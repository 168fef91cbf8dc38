"""The repository stands on its own: nothing in it reads, names or cites a file outside it.

A clone with nothing beside it must pass its tests, and a reader must be able to open whatever the code and
docs cite. The scanner below runs over every file of the repository (tracked or about to be: git's view, minus
ignored files); its rules are unit-tested on planted samples first, so the repository-wide test can fail.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Spelled in pieces so that this file does not trip its own rules.
_MACHINE_ROOT = "/" + "work/"
_FORBIDDEN = (
    ("../" + "shared", "a folder beside the clone"),
    ("shared" + "/reference", "reference notes outside the repository"),
    ("copy-api" + ".md", "a reference note outside the repository"),
    ("docs/" + "contracts", "a folder that is not in the repository"),
    ("field" + "-notes", "a reference note outside the repository"),
    ("durable-host" + "-protocol", "a reference note outside the repository"),
    ("keyvault" + ".md", "a reference note outside the repository"),
    ("style" + "-anchors", "a reference note outside the repository"),
)
_HELPER_NAME = re.compile(r"\bH\d{1,2}\b|\b[Hh]elper\s*#?\d+\b")
_UP_PATH = re.compile(r"(?<![\w.])(?:\.\./)+[\w.-]*")
_FILE_PARENTS = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?"
    r"(?P<chain>(?:\.parent(?!s))*)(?:\.parents\[(?P<index>\d+)\])?(?P<tail>(?:\.parent(?!s))*)")
_DIRNAME = re.compile(r"((?:os\.path\.dirname\(\s*)+)(?:os\.path\.(?:abspath|realpath)\(\s*)?__file__")
_MD_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
_RECORDING_CITE = re.compile(r"(?<![\w.-])(?:tests/)?recordings/([\w.…-]+\.(?:json|yaml))")
_SKIP_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".whl", ".pyc", ".db"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text.strip()[:160]}"


def _levels_up(match: re.Match[str]) -> int:
    """How many directories above the file a ``Path(__file__)`` expression climbs (1 = the file's folder)."""
    chain = match.group("chain").count(".parent") + match.group("tail").count(".parent")
    index = match.group("index")
    return chain + (int(index) + 1 if index is not None else 0)


def scan_text(rel_path: str, text: str, exists: Callable[[str], bool]) -> list[Violation]:
    """Every place in one file that reaches or cites something outside the repository.

    ``rel_path`` is the file's path from the repository root (POSIX); ``exists(path)`` says whether a
    root-relative path exists in the repository (glob characters allowed).
    """
    out: list[Violation] = []
    here = PurePosixPath(rel_path).parent
    depth = len(PurePosixPath(rel_path).parts)  # a file at the root climbs to the root with one level
    for no, line in enumerate(text.splitlines(), start=1):
        def hit(rule: str, _no: int = no, _line: str = line) -> None:
            out.append(Violation(rel_path, _no, rule, _line))

        if _MACHINE_ROOT in line:
            hit(f"absolute path of a development machine ({_MACHINE_ROOT})")
        for needle, why in _FORBIDDEN:
            if needle in line:
                hit(f"cites {needle!r}: {why}")
        if _HELPER_NAME.search(line):
            hit(f"names a person or helper ({_HELPER_NAME.search(line).group(0)!r})")
        for m in _UP_PATH.finditer(line):
            token = line[line.rfind(" ", 0, m.start()) + 1:m.end()]
            if "://" in token:
                continue  # part of a URL
            ups = m.group(0).count("../")
            if ups > len(here.parts):
                hit(f"path above the repository root ({m.group(0)!r} from {here}/)")
        if rel_path.endswith(".py"):
            for m in _FILE_PARENTS.finditer(line):
                if _levels_up(m) > depth:
                    hit("Path(__file__) climbs above the repository root")
            for m in _DIRNAME.finditer(line):
                if m.group(1).count("dirname") > depth:
                    hit("os.path.dirname(__file__) climbs above the repository root")
        if rel_path.endswith(".md"):
            for m in _MD_LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
                    continue  # a URL (or a site-absolute link)
                resolved = _normalise(here / target)
                if resolved is None:
                    continue  # above the root: reported by the ../ rule
                if not exists(resolved):
                    hit(f"links to {target!r}, which is not in the repository")
        for m in _RECORDING_CITE.finditer(line):
            if not exists("tests/recordings/" + m.group(1).replace("…", "*")):
                hit(f"cites a recording that is not in tests/recordings/ ({m.group(1)!r})")
    return out


def _normalise(path: PurePosixPath) -> str | None:
    """Collapse ``..`` segments; None when the path leaves the root."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts) or "."


def repository_files() -> list[str]:
    """The files a clone has: git's tracked files plus new, not ignored ones (a plain walk without git)."""
    try:
        res = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True)
        names = [n for n in res.stdout.decode().split("\0") if n]
        return sorted(n for n in names if (ROOT / n).is_file())
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".local", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}
        return sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                      if p.is_file() and not skip & set(p.relative_to(ROOT).parts))


def _exists_in_repo(path: str) -> bool:
    return any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()


# ------------------------------------------------------------------------------------- the rules, on samples
# Samples are assembled from pieces so that the repository-wide scan does not find them in this file.
FILE = "Path(" + "__file__)"
DIRNAME = "os.path." + "dirname("
UP = "../"


def _scan(text: str, path: str = "pkg/sub/mod.py", exists: Callable[[str], bool] = lambda p: True) -> list[str]:
    return [v.rule for v in scan_text(path, text, exists)]


@pytest.mark.parametrize("text", [
    f'RECORDINGS = {FILE}.resolve().parents[2].parent / "shared" / "reference"',  # 4 levels from depth 3
    f'DATA = {FILE}.parent.parent.parent.parent / "x"',
    f'DATA = os.path.join({DIRNAME * 4}__file__{")" * 4}, "x")',
    f'open("{UP * 3}notes.txt")',
    '"""Facts from ' + "copy-api" + '.md §1.2."""',
    "# see " + "docs/" + "contracts/copy.md",
    "# read " + "/" + "work/" + "shared/design.md",
    '"""For H' + '7 (the orchestration): ..."""',
    "# agreed with helper" + " 4",
    "x = 1  # the " + UP + "shared folder",
])
def test_scanner_catches_planted_violations(text):
    assert _scan(text), f"not caught: {text}"


@pytest.mark.parametrize("text", [
    "from ..errors import FerryError",  # relative imports use dots, not slashes
    "from . import steps",
    f'REPO = {FILE}.resolve().parents[2]',  # the root itself, from depth 3
    f'APPS = {FILE}.parent / "apps"',
    f'HERE = {DIRNAME * 3}__file__)))',
    'URL = "https://example.com/a/../b"',
    "h1 { color: red }",  # lower-case, CSS
    "HTTP/1.1 201 Created",
    "sha = 'aH7b9'",
    "# shared clock, shared protocol",
])
def test_scanner_leaves_legitimate_text_alone(text):
    assert _scan(text) == []


def test_markdown_links_must_resolve_inside_the_repository():
    assert _scan("see [facts](../docs/service-facts.md)", "tests/README.md") == []
    missing = _scan("see [notes](../docs/missing.md)", "tests/README.md", exists=lambda p: p != "docs/missing.md")
    assert missing and "not in the repository" in missing[0]
    assert _scan(f"see [x]({UP * 2}outside.md)", "tests/README.md")  # above the root
    assert _scan("see [docs](https://learn.microsoft.com/azure/)", "README.md") == []


def test_cited_recordings_must_exist():
    cite = "# real: tests/recordings/2022-08-31…fail_bad_model_id.json"
    assert _scan(cite, exists=lambda p: p.endswith("fail_bad_model_id.json")) == []
    assert _scan(cite, exists=lambda p: False)
    assert _scan("# real: " + "recordings/" + "v2.1…gone.yaml", exists=lambda p: False)  # a bare path too


def test_depth_is_counted_from_the_file():
    assert _scan(f"X = {FILE}.resolve().parent", "bench_root.py") == []  # the root itself, from the root
    assert _scan(f"X = {FILE}.resolve().parents[1]", "bench_root.py")


# ---------------------------------------------------------------------------------------- the repository
def test_nothing_in_the_repository_reaches_outside_it():
    files = repository_files()
    assert "tests/test_self_contained.py" in files and len(files) > 100  # the scan really covers the repository
    found: list[Violation] = []
    for rel in files:
        if Path(rel).suffix.lower() in _SKIP_SUFFIXES:
            continue
        try:
            text = (ROOT / rel).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        found += scan_text(rel, text, _exists_in_repo)
    assert not found, "cites or reads outside the repository:\n" + "\n".join(map(str, found))


def test_the_recordings_the_tests_use_are_in_the_repository():
    rec = ROOT / "tests" / "recordings"
    assert (rec / "README.md").is_file()
    names = {p.name for p in rec.iterdir() if p.suffix in {".json", ".yaml"}}
    readme = (rec / "README.md").read_text(encoding="utf-8")
    assert len(names) >= 10
    for name in names:  # each file is described in the README (by its full name or its … abbreviation)
        prefix = name.split("__")[0]
        tail = name.split(".py")[-1] if ".py" in name else name
        assert name in readme or (prefix in readme and tail.split("test_", 1)[-1] in readme), name
