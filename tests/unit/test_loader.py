"""The Dockfile loader: reading, YAML rules, limits, includes and interpolation."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from agentdock.findings import Code, Finding, Severity
from agentdock.spec import loader, yamlcompose
from agentdock.spec.loader import LoadedDocument, SourceLocation, load_document

SECRET = "s3cr3t-Value-9f8e7d"


def write(directory: pathlib.Path, name: str, content: str | bytes) -> pathlib.Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load(
    directory: pathlib.Path,
    text: str | bytes,
    *,
    environ: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> LoadedDocument:
    path = write(directory, "Dockfile.yaml", text)
    return load_document(path, environ={} if environ is None else environ, **kwargs)


def errors(doc: LoadedDocument) -> list[Finding]:
    return [f for f in doc.findings if f.severity is Severity.ERROR]


def single(doc: LoadedDocument, code: Code) -> Finding:
    found = [f for f in doc.findings if f.code is code]
    assert len(found) == 1, doc.findings
    return found[0]


def refused(doc: LoadedDocument, code: Code = Code.DockfileSyntaxError) -> Finding:
    """The document failed to load with exactly one finding of ``code``."""
    assert doc.data is None
    assert doc.raw is None
    return single(doc, code)


# -- good documents ----------------------------------------------------------------------


def test_plain_document_loads_with_source_map(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, 'version: "1.1"\nagent:\n  name: demo\n  tags: [a, b]\n')
    assert doc.findings == ()
    assert doc.ok
    assert doc.data == {"version": "1.1", "agent": {"name": "demo", "tags": ["a", "b"]}}
    assert doc.raw == doc.data
    assert doc.data is not doc.raw
    assert doc.path == tmp_path / "Dockfile.yaml"
    assert doc.project_dir == tmp_path
    file = str(tmp_path / "Dockfile.yaml")
    assert doc.source_map[()] == SourceLocation(file, 1, 1)
    assert doc.source_map[("version",)] == SourceLocation(file, 1, 10)
    assert doc.source_map[("agent",)] == SourceLocation(file, 3, 3)
    assert doc.source_map[("agent", "name")] == SourceLocation(file, 3, 9)
    assert doc.source_map[("agent", "tags", 1)] == SourceLocation(file, 4, 13)


def test_location_falls_back_to_nearest_ancestor(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "agent:\n  name: demo\n")
    file = str(tmp_path / "Dockfile.yaml")
    assert doc.location(("agent", "name")) == SourceLocation(file, 2, 9)
    assert doc.location(("agent", "missing", 3)) == SourceLocation(file, 2, 3)
    assert doc.location(("nothing",)) == SourceLocation(file, 1, 1)


def test_relative_path_is_displayed_as_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "proj/Dockfile.yaml", "a: [1\n")
    monkeypatch.chdir(tmp_path)
    doc = load_document("proj/Dockfile.yaml", environ={})
    finding = refused(doc)
    assert finding.file == "proj/Dockfile.yaml"
    assert doc.path == pathlib.Path("proj/Dockfile.yaml")
    assert doc.project_dir == tmp_path / "proj"
    assert doc.project_dir.is_absolute()


def test_display_keeps_the_path_exactly_as_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "proj/Dockfile.yaml", "a: ${A}\n")
    write(tmp_path, "proj/.env", b"\xff")
    monkeypatch.chdir(tmp_path)
    doc = load_document("./proj//Dockfile.yaml", environ={})
    assert [f.file for f in doc.findings] == ["./proj/.env", "./proj//Dockfile.yaml"]
    assert doc.source_map[()].file == "./proj//Dockfile.yaml"


def test_yaml_core_scalars(tmp_path: pathlib.Path) -> None:
    text = (
        "i: 42\nhex: 0x1F\nf: 1.5\nt: true\ny: yes\nn: ~\ne:\ns: hello\nq: '42'\n"
        "big: 123456789012345678901234567890\nneg: -7\n"
    )
    doc = load(tmp_path, text)
    assert doc.findings == ()
    assert doc.data == {
        "i": 42,
        "hex": 31,
        "f": 1.5,
        "t": True,
        "y": True,
        "n": None,
        "e": None,
        "s": "hello",
        "q": "42",
        "big": 123456789012345678901234567890,
        "neg": -7,
    }


def test_timestamps_stay_strings(tmp_path: pathlib.Path) -> None:
    doc = load(
        tmp_path, "d: 2001-12-14\nts: 2001-12-14t21:59:43.10-05:00\nx: !!timestamp 2002-01-01\n"
    )
    assert doc.findings == ()
    assert doc.data == {
        "d": "2001-12-14",
        "ts": "2001-12-14t21:59:43.10-05:00",
        "x": "2002-01-01",
    }
    assert all(type(v) is str for v in doc.data.values())


def test_keys_are_their_source_text(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "on: push\n1: one\nnull: n\ntrue: t\n~: tilde\n1.5: f\n'quoted': q\n")
    assert doc.findings == ()
    assert doc.data is not None
    assert list(doc.data) == ["on", "1", "null", "true", "~", "1.5", "quoted"]
    assert doc.data["on"] == "push"


def test_explicit_core_tags(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "a: !!str 123\nb: !!int '42'\nc: !!float '2'\nd: ! 12\ne: !!map {x: 1}\n")
    assert doc.findings == ()
    assert doc.data == {"a": "123", "b": 42, "c": 2.0, "d": "12", "e": {"x": 1}}


def test_invalid_explicit_int(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb: !!int abc\n"))
    assert finding.message == "invalid integer value"
    assert finding.path == ("b",)
    assert finding.line == 2


def test_utf8_bom_is_accepted(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, b"\xef\xbb\xbfa: 1\n")
    assert doc.findings == ()
    assert doc.data == {"a": 1}


def test_anchors_and_aliases_are_copied(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "base: &b {x: [1, 2]}\ncopy: *b\n")
    assert doc.findings == ()
    assert doc.data is not None
    assert doc.data["copy"] == {"x": [1, 2]}
    assert doc.data["copy"] is not doc.data["base"]
    file = str(tmp_path / "Dockfile.yaml")
    assert doc.source_map[("copy", "x", 1)] == SourceLocation(file, 1, 18)


# -- merge keys --------------------------------------------------------------------------


def test_merge_key_explicit_keys_win(tmp_path: pathlib.Path) -> None:
    text = "base: &base\n  a: 1\n  b: 2\nchild:\n  <<: *base\n  b: 3\n  c: 4\n"
    doc = load(tmp_path, text)
    assert doc.findings == ()
    assert doc.data is not None
    assert doc.data["child"] == {"a": 1, "b": 3, "c": 4}
    file = str(tmp_path / "Dockfile.yaml")
    assert doc.source_map[("child", "a")] == SourceLocation(file, 2, 6)
    assert doc.source_map[("child", "b")] == SourceLocation(file, 6, 6)


def test_merge_list_earlier_mappings_win(tmp_path: pathlib.Path) -> None:
    text = "one: &one {a: 1, b: 1}\ntwo: &two {b: 2, c: 2}\nm:\n  <<: [*one, *two, {d: 4}]\n"
    doc = load(tmp_path, text)
    assert doc.findings == ()
    assert doc.data is not None
    assert doc.data["m"] == {"a": 1, "b": 1, "c": 2, "d": 4}


def test_nested_merges(tmp_path: pathlib.Path) -> None:
    text = "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n"
    doc = load(tmp_path, text)
    assert doc.findings == ()
    assert doc.data is not None
    assert doc.data["c"] == {"x": 1, "y": 2, "z": 3}


def test_merge_of_a_scalar_is_refused(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a:\n  <<: 5\n"))
    assert "merge" in finding.message
    assert finding.line == 2


def test_quoted_merge_key_is_an_ordinary_key(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "'<<': {a: 1}\n")
    assert doc.findings == ()
    assert doc.data == {"<<": {"a": 1}}


def test_merge_of_itself_is_refused(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: &x {<<: *x, b: 1}\n"))
    assert "recursive" in finding.message


# -- refused documents -------------------------------------------------------------------


def test_missing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nope.yaml"
    doc = load_document(path, environ={})
    finding = refused(doc)
    assert finding.message == "file not found"
    assert finding.file == str(path)
    assert finding.path == ()


def test_directory(tmp_path: pathlib.Path) -> None:
    finding = refused(load_document(tmp_path, environ={}))
    assert "directory" in finding.message


@pytest.mark.parametrize("text", ["", "# just a comment\n\n   # another\n", "---\n", "\n\n"])
def test_empty_file(tmp_path: pathlib.Path, text: str) -> None:
    finding = refused(load(tmp_path, text))
    assert finding.message == "file is empty"
    assert finding.file == str(tmp_path / "Dockfile.yaml")
    assert finding.line == 1


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("- a\n- b\n", "a sequence"),
        ("just text\n", "a string"),
        ("42\n", "an integer"),
        ("~\n", "null"),
        ("true\n", "a boolean"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path: pathlib.Path, text: str, kind: str) -> None:
    finding = refused(load(tmp_path, text))
    assert finding.message == f"top level must be a mapping, got {kind}"
    assert finding.line == 1


def test_invalid_yaml_reports_line(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb: 2\n  c: 3\nd: 4\n"))
    assert finding.message.startswith("invalid YAML: mapping values are not allowed")
    assert finding.line == 3
    assert "column 4" in finding.message
    assert "\n" not in finding.message
    assert finding.file == str(tmp_path / "Dockfile.yaml")


def test_unterminated_flow_sequence(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb: [1, 2\n"))
    assert finding.message.startswith("invalid YAML")
    assert finding.line is not None and finding.line >= 2


def test_several_documents(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\n---\nb: 2\n"))
    assert "several YAML documents" in finding.message
    assert finding.line == 2


def test_binary_garbage(tmp_path: pathlib.Path) -> None:
    garbage = b"\x00\xff\xfe" + bytes((i * 197 + i // 7) % 256 for i in range(4096))
    finding = refused(load(tmp_path, garbage))
    assert finding.message.startswith("not UTF-8 text")
    assert finding.line == 1


def test_invalid_utf8_reports_line(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, b"a: 1\nb: 2\nc: \xc3\x28\n"))
    assert finding.message == "not UTF-8 text (invalid byte at line 3)"
    assert finding.line == 3


def test_nul_byte_in_valid_utf8(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, b"a: 1\nb: x\x00y\n"))
    assert "NUL" in finding.message
    assert finding.line == 2


def test_control_character(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\n\nb: x\x07\n"))
    assert "U+0007" in finding.message
    assert "column 5" in finding.message
    assert finding.line == 3


def test_huge_file_is_refused_without_reading_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Dockfile.yaml"
    with path.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024)
    opened: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        raise AssertionError("the file must not be opened")

    monkeypatch.setattr(yamlcompose, "open", spy, raising=False)
    finding = refused(load_document(path, environ={}))
    assert finding.message == "file is 52428800 bytes; the limit is 1048576"
    assert finding.file == str(path)
    assert opened == []


def test_size_limit_boundary(tmp_path: pathlib.Path) -> None:
    text = "a: " + "x" * 97  # 100 bytes, no newline
    assert len(text.encode()) == 100
    assert load(tmp_path, text, max_bytes=100).data == {"a": "x" * 97}
    finding = refused(load(tmp_path, text + "\n", max_bytes=100))
    assert finding.message == "file is 101 bytes; the limit is 100"


def test_growing_file_is_read_at_most_one_byte_past_the_limit(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "Dockfile.yaml", "a: " + "x" * 5000 + "\n")
    real_stat = os.stat
    requested: list[int] = []

    def small_stat(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(target, *args, **kwargs)
        fields = list(info[:10])
        fields[6] = 10  # st_size: the file looked small when it was checked
        return os.stat_result(fields)

    real_open = open

    class Spy:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

        def read(self, size: int = -1) -> bytes:
            requested.append(size)
            data: bytes = self.stream.read(size)
            return data

    def spy_open(target: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Spy:
        return Spy(real_open(target, mode, *args, **kwargs))

    monkeypatch.setattr(os, "stat", small_stat)
    monkeypatch.setattr(yamlcompose, "open", spy_open, raising=False)
    finding = refused(load_document(path, environ={}, max_bytes=1000))
    assert finding.message == "file is more than 1000 bytes; the limit is 1000"
    assert requested == [1001]


def test_very_deep_flow_nesting(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "[" * 10_000 + "]" * 10_000))
    assert "nesting" in finding.message  # libyaml itself stops at 1000 levels
    assert finding.line == 1
    finding = refused(load(tmp_path, "[" * 500 + "]" * 500))
    assert finding.message == "nesting deeper than 64 levels"
    assert finding.line == 1


def test_very_deep_unterminated_nesting(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: " + "[" * 10_000))
    assert "nesting" in finding.message


def test_very_deep_block_nesting(tmp_path: pathlib.Path) -> None:
    text = "".join("  " * depth + f"k{depth}:\n" for depth in range(200))
    finding = refused(load(tmp_path, text))
    assert finding.message == "nesting deeper than 64 levels"
    assert finding.line == 65


def nested(levels: int) -> str:
    value: Any = 1
    for _ in range(levels - 1):
        value = {"a": value}
    return json.dumps({"a": value}) + "\n"


def test_depth_limit_boundary(tmp_path: pathlib.Path) -> None:
    assert load(tmp_path, nested(64)).findings == ()
    assert refused(load(tmp_path, nested(65))).message == "nesting deeper than 64 levels"
    assert refused(load(tmp_path, nested(5), max_depth=4)).message == (
        "nesting deeper than 4 levels"
    )


def test_depth_counts_through_aliases(tmp_path: pathlib.Path) -> None:
    # The file nests four levels deep, its data six (b -> [ -> [ -> *a's three levels).
    text = "a: &a [[[1]]]\nb: [[*a]]\n"
    assert load(tmp_path, text, max_depth=6).data is not None
    finding = refused(load(tmp_path, text, max_depth=5))
    assert finding.message == "nesting deeper than 5 levels"
    assert finding.path == ("b", 0, 0, 0, 0)


def test_recursion_error_becomes_a_finding(tmp_path: pathlib.Path) -> None:
    # libyaml allows 1000 levels of flow nesting; building that deep exceeds the
    # interpreter's recursion limit when the depth limit is lifted.
    finding = refused(load(tmp_path, "[" * 990 + "]" * 990, max_depth=1_000_000))
    assert "nested too deeply" in finding.message


def test_recursion_anywhere_becomes_a_finding(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_deep(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(loader, "interpolate_tree", too_deep)
    finding = refused(load(tmp_path, "a: 1\n"))
    assert finding.message == "document is nested too deeply to load"
    assert finding.file == str(tmp_path / "Dockfile.yaml")
    assert refused(load_document({"a": 1})).message == "document is nested too deeply to load"


def test_billion_laughs_is_refused(tmp_path: pathlib.Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    finding = refused(load(tmp_path, "\n".join(lines) + "\n"))
    assert finding.message == "document expands to more than 100000 nodes (alias bomb?)"
    assert finding.file == str(tmp_path / "Dockfile.yaml")
    assert finding.line is not None


def test_node_limit_counts_alias_expansions(tmp_path: pathlib.Path) -> None:
    text = "a: &a [1, 2, 3, 4]\nb: [*a, *a, *a, *a]\n"
    assert load(tmp_path, text, max_nodes=100).data is not None
    finding = refused(load(tmp_path, text, max_nodes=20))
    assert "more than 20 nodes" in finding.message


def test_merge_bomb_is_refused(tmp_path: pathlib.Path) -> None:
    lines = ["a0: &a0 {" + ", ".join(f"k{i}: {i}" for i in range(10)) + "}"]
    for level in range(1, 8):
        sources = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} {{<<: [{sources}], x: {level}}}")
    lines.append("z: [" + ", ".join(["*a7"] * 50) + "]")
    finding = refused(load(tmp_path, "\n".join(lines) + "\n"))
    assert "alias bomb" in finding.message


def test_recursive_alias(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: &x [1, *x]\n"))
    assert "recursive alias" in finding.message


def test_unknown_alias(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb: *nope\n"))
    assert finding.message == "unknown alias '*nope'"
    assert finding.line == 2


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [a: 1]", "!!omap"),
        ("!!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
        ("!!python/name:os.system ''", "!!python/name:os.system"),
        ("!foo bar", "!foo"),
        ("!secret [1]", "!secret"),
    ],
)
def test_unsupported_tags(tmp_path: pathlib.Path, value: str, tag: str) -> None:
    finding = refused(load(tmp_path, f"ok: 1\nbad: {value}\n"))
    assert finding.message == f"unsupported tag {tag}"
    assert finding.path == ("bad",)
    assert finding.line == 2


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.Inf", "1.0e+999"])
def test_non_finite_floats(tmp_path: pathlib.Path, value: str) -> None:
    finding = refused(load(tmp_path, f"x: {value}\n"))
    assert "not representable in JSON" in finding.message
    assert finding.path == ("x",)


def test_duplicate_keys(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n"))
    assert finding.message == "duplicate key 'x'"
    assert finding.path == ("b", "x")
    assert finding.line == 5


def test_duplicate_keys_by_source_text(tmp_path: pathlib.Path) -> None:
    # 1 and "1" are one key once keys are text.
    finding = refused(load(tmp_path, "1: a\n'1': b\n"))
    assert finding.message == "duplicate key '1'"
    assert finding.line == 2


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "{a: 1}: x\n", "? {a: 1}\n: 2\n"])
def test_non_scalar_keys(tmp_path: pathlib.Path, text: str) -> None:
    finding = refused(load(tmp_path, text))
    assert finding.message == "mapping keys must be scalars"


def test_every_refusal_has_file_and_line(tmp_path: pathlib.Path) -> None:
    documents = [
        "",
        "- a\n",
        "a: [\n",
        "a: 1\na: 2\n",
        "a: !!binary x\n",
        "a: .nan\n",
        "a: *x\n",
        "a: 1\n---\n",
        "a: !include missing.yaml\n",
        "a: !include ../outside.yaml\n",
        "[" * 100 + "]" * 100,
    ]
    for text in documents:
        doc = load(tmp_path, text)
        assert errors(doc), text
        for finding in doc.findings:
            assert finding.file is not None, (text, finding)
            assert finding.line is not None and finding.line >= 1, (text, finding)


# -- includes ----------------------------------------------------------------------------


def test_include_mapping_and_source_map(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "parts/agent.yaml", "# agent\nname: demo\nentry: main:app\n")
    doc = load(tmp_path, "version: '1.1'\nagent: !include parts/agent.yaml\n")
    assert doc.findings == ()
    assert doc.data == {"version": "1.1", "agent": {"name": "demo", "entry": "main:app"}}
    assert doc.source_map[("agent",)] == SourceLocation("parts/agent.yaml", 2, 1)
    assert doc.source_map[("agent", "entry")] == SourceLocation("parts/agent.yaml", 3, 8)
    assert doc.source_map[("version",)].file == str(tmp_path / "Dockfile.yaml")


def test_include_scalars_and_sequences(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "prompt.yaml", "'be nice'\n")
    write(tmp_path, "list.yaml", "- 1\n- two\n")
    doc = load(
        tmp_path, "p: !include prompt.yaml\nl: !include list.yaml\ns: [!include list.yaml]\n"
    )
    assert doc.findings == ()
    assert doc.data == {"p": "be nice", "l": [1, "two"], "s": [[1, "two"]]}
    assert doc.source_map[("s", 0, 1)] == SourceLocation("list.yaml", 2, 3)


def test_nested_include_is_relative_to_the_including_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "sub/a.yaml", "b: !include b.yaml\n")
    write(tmp_path, "sub/b.yaml", "deep: true\n")
    write(tmp_path, "b.yaml", "wrong: true\n")
    doc = load(tmp_path, "a: !include sub/a.yaml\n")
    assert doc.findings == ()
    assert doc.data == {"a": {"b": {"deep": True}}}
    assert doc.source_map[("a", "b", "deep")] == SourceLocation(os.path.join("sub", "b.yaml"), 1, 7)


def test_same_file_included_twice(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "x.yaml", "k: v\n")
    doc = load(tmp_path, "a: !include x.yaml\nb: !include x.yaml\n")
    assert doc.findings == ()
    assert doc.data == {"a": {"k": "v"}, "b": {"k": "v"}}
    assert doc.data["a"] is not doc.data["b"]


def test_include_at_top_level(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "real.yaml", "a: 1\n")
    doc = load(tmp_path, "!include real.yaml\n")
    assert doc.findings == ()
    assert doc.data == {"a": 1}
    write(tmp_path, "list.yaml", "- 1\n")
    finding = refused(load(tmp_path, "!include list.yaml\n"))
    assert finding.message == "top level must be a mapping, got a sequence"
    assert finding.file == "list.yaml"


def test_merge_from_include(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "defaults.yaml", "timeout: 30\nretries: 3\n")
    doc = load(tmp_path, "cfg:\n  <<: !include defaults.yaml\n  retries: 5\n")
    assert doc.findings == ()
    assert doc.data == {"cfg": {"timeout": 30, "retries": 5}}
    assert doc.source_map[("cfg", "timeout")] == SourceLocation("defaults.yaml", 1, 10)
    file = str(tmp_path / "Dockfile.yaml")
    assert doc.source_map[("cfg", "retries")] == SourceLocation(file, 3, 12)


def test_an_include_path_with_a_line_break_is_quoted_in_one_line(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, 'b: !include "x\\ny.yaml"\n'))
    assert finding.message == "included file not found: 'x\\ny.yaml'"


def test_include_missing_file(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "a: 1\nb: !include x.yaml\n"))
    assert finding.message == "included file not found: x.yaml"
    assert finding.file == str(tmp_path / "Dockfile.yaml")
    assert finding.line == 2
    assert finding.path == ("b",)


def test_include_of_a_directory(tmp_path: pathlib.Path) -> None:
    (tmp_path / "dir").mkdir()
    finding = refused(load(tmp_path, "b: !include dir\n"))
    assert "directory" in finding.message
    assert finding.path == ("b",)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_include_of_a_pipe_is_refused_without_blocking(tmp_path: pathlib.Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    finding = refused(load(tmp_path, "b: !include pipe.yaml\n"))
    assert finding.message == "not a regular file"
    assert finding.file == "pipe.yaml"


def test_include_without_a_path(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "b: !include ''\n"))
    assert finding.message == "!include needs a file path"
    finding = refused(load(tmp_path, "b: !include [a.yaml]\n"))
    assert "!include takes a file path" in finding.message


def test_include_escaping_with_dotdot(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "outside.yaml", "a: 1\n")
    project = tmp_path / "proj"
    finding = refused(load(project, "x: 1\ny: !include ../outside.yaml\n"))
    assert finding.message == "include escapes the project directory: ../outside.yaml"
    assert finding.line == 2


def test_include_escaping_with_absolute_path(tmp_path: pathlib.Path) -> None:
    outside = write(tmp_path, "outside.yaml", "a: 1\n")
    finding = refused(load(tmp_path / "proj", f"y: !include {outside}\n"))
    assert finding.message.startswith("include escapes the project directory")


def test_include_absolute_path_inside_project(tmp_path: pathlib.Path) -> None:
    inside = write(tmp_path, "inside.yaml", "a: 1\n")
    doc = load(tmp_path, f"y: !include {inside}\n")
    assert doc.findings == ()
    assert doc.data == {"y": {"a": 1}}


def test_include_escaping_through_a_symlink(tmp_path: pathlib.Path) -> None:
    outside = write(tmp_path, "secret.yaml", "a: 1\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "link.yaml").symlink_to(outside)
    finding = refused(load(project, "y: !include link.yaml\n"))
    assert finding.message == "include escapes the project directory: link.yaml"


def test_include_escape_from_a_nested_include(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "outside.yaml", "a: 1\n")
    project = tmp_path / "proj"
    write(project, "sub/a.yaml", "b: !include ../../outside.yaml\n")
    finding = refused(load(project, "a: !include sub/a.yaml\n"))
    assert finding.message.startswith("include escapes the project directory")
    assert finding.file == os.path.join("sub", "a.yaml")
    assert finding.path == ("a", "b")


def test_include_symlink_inside_project(tmp_path: pathlib.Path) -> None:
    target = write(tmp_path, "real/target.yaml", "a: 1\n")
    (tmp_path / "link.yaml").symlink_to(target)
    doc = load(tmp_path, "y: !include link.yaml\n")
    assert doc.findings == ()
    assert doc.data == {"y": {"a": 1}}


def test_include_cycle(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "a.yaml", "next: !include b.yaml\n")
    write(tmp_path, "b.yaml", "x: 1\nback: !include a.yaml\n")
    doc = load(tmp_path, "root: !include a.yaml\n")
    finding = refused(doc, Code.IncludeCycleError)
    assert finding.message == "include cycle: Dockfile.yaml -> a.yaml -> b.yaml -> a.yaml"
    assert finding.file == "b.yaml"
    assert finding.line == 2
    assert finding.path == ("root", "next", "back")


def test_self_include(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "me: !include Dockfile.yaml\n"), Code.IncludeCycleError)
    assert finding.message == "include cycle: Dockfile.yaml -> Dockfile.yaml"
    assert finding.line == 1


def test_include_cycle_through_merge(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "a.yaml", "<<: !include a.yaml\n")
    finding = refused(load(tmp_path, "x: !include a.yaml\n"), Code.IncludeCycleError)
    assert finding.message == "include cycle: Dockfile.yaml -> a.yaml -> a.yaml"


def include_chain(directory: pathlib.Path, length: int) -> None:
    for index in range(1, length):
        write(directory, f"f{index}.yaml", f"level: {index}\nnext: !include f{index + 1}.yaml\n")
    write(directory, f"f{length}.yaml", f"level: {length}\n")


def test_include_depth_limit(tmp_path: pathlib.Path) -> None:
    include_chain(tmp_path, 3)
    assert load(tmp_path, "x: !include f1.yaml\n", max_include_depth=3).findings == ()
    doc = load(tmp_path, "x: !include f1.yaml\n", max_include_depth=2)
    finding = refused(doc, Code.IncludeCycleError)
    assert finding.message == "include depth exceeds 2"
    assert finding.file == "f2.yaml"


def test_include_depth_default_is_16(tmp_path: pathlib.Path) -> None:
    include_chain(tmp_path, 17)
    doc = load(tmp_path, "x: !include f1.yaml\n")
    assert refused(doc, Code.IncludeCycleError).message == "include depth exceeds 16"
    write(tmp_path, "f16.yaml", "level: 16\n")
    assert load(tmp_path, "x: !include f1.yaml\n").findings == ()


def test_included_file_errors_point_into_that_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "bad.yaml", "a: 1\nb: [\n")
    finding = refused(load(tmp_path, "x: 1\ny: !include bad.yaml\n"))
    assert finding.message.startswith("invalid YAML")
    assert finding.file == "bad.yaml"
    assert finding.line is not None and finding.line >= 2
    assert finding.path == ("y",)


def test_included_file_size_limit(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "big.yaml", "a: " + "x" * 500 + "\n")
    finding = refused(load(tmp_path, "y: !include big.yaml\n", max_bytes=200))
    assert finding.message == "file is 504 bytes; the limit is 200"
    assert finding.file == "big.yaml"


def test_included_empty_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "empty.yaml", "# nothing\n")
    finding = refused(load(tmp_path, "y: !include empty.yaml\n"))
    assert finding.message == "file is empty"
    assert finding.file == "empty.yaml"


def test_anchors_do_not_cross_files(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "inc.yaml", "v: *base\n")
    finding = refused(load(tmp_path, "base: &base 1\ny: !include inc.yaml\n"))
    assert finding.message == "unknown alias '*base'"
    assert finding.file == "inc.yaml"


def test_include_tag_on_a_key_is_refused(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "k.yaml", "k\n")
    finding = refused(load(tmp_path, "? !include k.yaml\n: 1\n"))
    assert finding.message == "unsupported tag !include on a key"


def test_include_path_is_not_interpolated(tmp_path: pathlib.Path) -> None:
    finding = refused(load(tmp_path, "y: !include ${NAME}.yaml\n", env={"NAME": "x"}))
    assert finding.message == "included file not found: ${NAME}.yaml"


def test_mapping_source_keeps_include_text(tmp_path: pathlib.Path) -> None:
    doc = load_document({"a": "!include x.yaml"}, environ={})
    assert doc.findings == ()
    assert doc.data == {"a": "!include x.yaml"}


# -- interpolation -----------------------------------------------------------------------


def test_resolution_order(tmp_path: pathlib.Path) -> None:
    write(tmp_path, ".env", "A=from-dotenv\nB=from-dotenv\nC=from-dotenv\n")
    doc = load(
        tmp_path,
        "a: ${A}\nb: ${B}\nc: ${C}\n",
        env={"A": "from-env"},
        environ={"A": "from-environ", "B": "from-environ"},
    )
    assert doc.findings == ()
    assert doc.data == {"a": "from-env", "b": "from-environ", "c": "from-dotenv"}
    assert doc.raw == {"a": "${A}", "b": "${B}", "c": "${C}"}


def test_environ_defaults_to_the_process_environment(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_TEST_VAR", "from-process")
    path = write(tmp_path, "Dockfile.yaml", "a: ${AGENTDOCK_TEST_VAR}\n")
    assert load_document(path).data == {"a": "from-process"}


def test_defaults(tmp_path: pathlib.Path) -> None:
    doc = load(
        tmp_path,
        "unset: ${U:-d1}\nempty: ${E:-d2}\nset: ${S:-d3}\nblank: ${E}\nnone: ${U:-}\n",
        environ={"E": "", "S": "value"},
    )
    assert doc.findings == ()
    assert doc.data == {"unset": "d1", "empty": "d2", "set": "value", "blank": None, "none": None}


def test_escape(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "a: $${HOME}\nb: 'cost: $5 and $$${X}'\n", environ={"X": "x"})
    assert doc.findings == ()
    assert doc.data == {"a": "${HOME}", "b": "cost: $5 and $${X}"}
    assert doc.raw == {"a": "$${HOME}", "b": "cost: $5 and $$${X}"}
    assert doc.variables == frozenset()
    assert doc.interpolated == frozenset()


def test_unresolved_is_an_error(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "auth:\n  secret: 'Bearer ${JWT_SECRET}'\n")
    finding = single(doc, Code.EnvInterpolationError)
    assert finding.severity is Severity.ERROR
    assert finding.message == "unresolved variable JWT_SECRET"
    assert finding.hint == "pass --env JWT_SECRET=..., export it, or add it to .env"
    assert finding.path == ("auth", "secret")
    assert finding.file == str(tmp_path / "Dockfile.yaml")
    assert finding.line == 2
    assert not doc.ok
    assert doc.unresolved == frozenset({"JWT_SECRET"})
    assert doc.data == {"auth": {"secret": "Bearer ${JWT_SECRET}"}}


def test_unresolved_allowed_is_a_warning(tmp_path: pathlib.Path) -> None:
    doc = load(
        tmp_path,
        "a: ${MISSING}\nb: ${MISSING}-${SET}\n",
        environ={"SET": "s"},
        allow_unresolved=True,
    )
    assert [f.code for f in doc.findings] == [Code.UnresolvedVariableWarning] * 2
    assert all(f.severity is Severity.WARNING for f in doc.findings)
    assert [f.line for f in doc.findings] == [1, 2]
    assert doc.ok
    assert doc.data == {"a": "${MISSING}", "b": "${MISSING}-s"}
    assert doc.unresolved == frozenset({"MISSING"})
    assert doc.interpolated == frozenset({("b",)})


def test_malformed_placeholders(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "a: ok\nb: '${1X}'\nc: 'x ${OPEN'\n", allow_unresolved=True)
    found = [f for f in doc.findings if f.code is Code.EnvInterpolationError]
    assert [f.message for f in found] == [
        "malformed placeholder '${1X}'",
        "malformed placeholder '${OPEN'",
    ]
    assert [f.line for f in found] == [2, 3]
    assert all(f.severity is Severity.ERROR for f in found)
    assert doc.data is not None
    assert doc.data["b"] == "${1X}"


def test_plain_placeholder_is_retyped_quoted_is_not(tmp_path: pathlib.Path) -> None:
    text = (
        "port: ${PORT:-8080}\n"
        "qport: '${PORT:-8080}'\n"
        'dport: "${PORT:-8080}"\n'
        "flag: ${FLAG}\n"
        "ratio: ${RATIO}\n"
        "mixed: ${PORT:-8080}0\n"
        "tagged: !!str ${FLAG}\n"
        "block: |\n  ${FLAG}\n"
        "nan: ${NAN}\n"
        "date: ${DATE}\n"
        "list:\n  - ${FLAG}\n  - '${FLAG}'\n"
    )
    doc = load(
        tmp_path,
        text,
        environ={"FLAG": "true", "RATIO": "0.5", "NAN": ".nan", "DATE": "2020-01-01"},
    )
    assert doc.findings == ()
    assert doc.data == {
        "port": 8080,
        "qport": "8080",
        "dport": "8080",
        "flag": True,
        "ratio": 0.5,
        "mixed": "80800",
        "tagged": "true",
        "block": "true\n",
        "nan": ".nan",
        "date": "2020-01-01",
        "list": [True, "true"],
    }


def test_retyping_applies_to_aliased_and_included_values(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "inc.yaml", "port: ${PORT}\n")
    doc = load(tmp_path, "a: &p ${PORT}\nb: *p\nc: !include inc.yaml\n", env={"PORT": "9"})
    assert doc.data == {"a": 9, "b": 9, "c": {"port": 9}}
    assert doc.interpolated == frozenset({("a",), ("b",), ("c", "port")})


def test_keys_are_not_interpolated(tmp_path: pathlib.Path) -> None:
    doc = load(tmp_path, "${K}: ${V}\n", environ={"K": "key", "V": "value"})
    assert doc.data == {"${K}": "value"}
    assert doc.variables == frozenset({"V"})


def test_interpolated_paths_and_variables(tmp_path: pathlib.Path) -> None:
    text = "a: plain\nb: ${X}\nc:\n  - x${Y:-y}\n  - $${Z}\n  - ${X} and $HOME\n"
    doc = load(tmp_path, text, environ={"X": "1"})
    assert doc.findings == ()
    assert doc.interpolated == frozenset({("b",), ("c", 0), ("c", 2)})
    assert doc.variables == frozenset({"X", "Y"})
    assert doc.data == {"a": "plain", "b": 1, "c": ["xy", "${Z}", "1 and $HOME"]}
    assert doc.raw == {"a": "plain", "b": "${X}", "c": ["x${Y:-y}", "$${Z}", "${X} and $HOME"]}


def test_dotenv_is_beside_the_dockfile(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, ".env", "A=cwd\n")
    project = tmp_path / "proj"
    write(project, ".env", "A=project\n# comment\nexport B='quoted value'\nC\n")
    monkeypatch.chdir(tmp_path)
    doc = load(project, "a: ${A}\nb: ${B}\nc: ${C:-unset}\n")
    assert doc.findings == ()
    assert doc.data == {"a": "project", "b": "quoted value", "c": "unset"}


def test_dotenv_values_are_not_expanded(tmp_path: pathlib.Path) -> None:
    write(tmp_path, ".env", "A=${B}x\n")
    doc = load(tmp_path, "a: ${A}\n", environ={"B": "b"})
    assert doc.data == {"a": "${B}x"}


def test_dotenv_is_read_only_when_needed(tmp_path: pathlib.Path) -> None:
    write(tmp_path, ".env", b"\xff\xfe binary")
    assert load(tmp_path, "a: ${A}\n", environ={"A": "1"}).findings == ()
    doc = load(tmp_path, "a: ${A}\n")
    codes = [f.code for f in doc.findings]
    assert codes == [Code.EnvInterpolationError, Code.EnvInterpolationError]
    assert doc.findings[0].message.startswith("not UTF-8 text")
    assert doc.findings[0].file == str(tmp_path / ".env")


def test_secrets_never_appear_in_findings(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path,
        ".env",
        f"DOTENV_SECRET={SECRET}-dotenv\nBROKEN {SECRET}-broken\nPORT_SECRET={SECRET}\n",
    )
    text = (
        "a: ${ENV_SECRET}\n"
        "b: 'x ${ENVIRON_SECRET} y'\n"
        "c: ${DOTENV_SECRET}\n"
        "d: ${PORT_SECRET}\n"
        "e: ${MISSING}\n"
        "f: '${1bad}'\n"
        "g: ${MISSING:-}${ENV_SECRET}${OTHER_MISSING}\n"
        "h: !!binary ${ENV_SECRET}\n"
    )
    for allow in (False, True):
        doc = load(
            tmp_path,
            text,
            env={"ENV_SECRET": f"{SECRET}-env"},
            environ={"ENVIRON_SECRET": f"{SECRET}-environ", "HOME": SECRET},
            allow_unresolved=allow,
        )
        assert doc.findings
        rendered = repr(doc.findings) + "".join(f.one_line() for f in doc.findings)
        rendered += json.dumps([f.to_dict() for f in doc.findings])
        rendered += "".join(f.detail or "" for f in doc.findings)
        assert SECRET not in rendered
        assert doc.raw is None or SECRET not in repr(doc.raw)
    # The same document without the structural error: values resolve, findings stay clean.
    doc = load(
        tmp_path,
        text.replace("!!binary ", ""),
        env={"ENV_SECRET": f"{SECRET}-env"},
        environ={"ENVIRON_SECRET": f"{SECRET}-environ"},
    )
    assert doc.data is not None
    assert doc.data["a"] == f"{SECRET}-env"
    assert doc.data["c"] == f"{SECRET}-dotenv"
    assert doc.data["d"] == f"{SECRET}"
    assert doc.raw is not None
    assert SECRET not in repr(doc.raw)
    assert {f.message for f in doc.findings} == {
        "unresolved variable MISSING",
        "unresolved variable OTHER_MISSING",
        "malformed placeholder '${1bad}'",
    }
    assert SECRET not in repr(doc.findings)


# -- mapping input -----------------------------------------------------------------------


def test_mapping_input(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, ".env", "FROM_DOTENV=1\n")
    monkeypatch.chdir(tmp_path)
    source: dict[str, Any] = {
        "a": {"b": ["${X}", 1, 2.5, True, None]},
        "port": "${P:-80}",
        "d": "${FROM_DOTENV:-no .env for mappings}",
        "t": (1, 2),
    }
    doc = load_document(source, env={"X": "x"}, environ={})
    assert doc.findings == ()
    assert doc.path is None
    assert doc.project_dir == tmp_path
    assert doc.source_map == {}
    assert doc.location(("a",)) is None
    assert doc.data == {
        "a": {"b": ["x", 1, 2.5, True, None]},
        "port": "80",
        "d": "no .env for mappings",
        "t": [1, 2],
    }
    assert doc.raw == {
        "a": {"b": ["${X}", 1, 2.5, True, None]},
        "port": "${P:-80}",
        "d": "${FROM_DOTENV:-no .env for mappings}",
        "t": [1, 2],
    }
    assert doc.interpolated == frozenset({("a", "b", 0), ("port",), ("d",)})
    source["a"]["b"].append("mutated")
    assert doc.raw["a"]["b"] == ["${X}", 1, 2.5, True, None]


def test_mapping_input_unresolved(tmp_path: pathlib.Path) -> None:
    doc = load_document({"a": ["${NOPE}"]}, environ={})
    finding = single(doc, Code.EnvInterpolationError)
    assert finding.path == ("a", 0)
    assert finding.file is None
    assert finding.line is None
    assert doc.data == {"a": ["${NOPE}"]}


@pytest.mark.parametrize(
    ("source", "path", "message"),
    [
        ({"a": {1: "x"}}, ("a",), "mapping keys must be strings, got int"),
        ({"a": [1, {"b"}]}, ("a", 1), "a value of type set is not JSON-compatible"),
        ({"a": float("nan")}, ("a",), "nan is not representable in JSON"),
        ({"a": [float("inf")]}, ("a", 0), "inf is not representable in JSON"),
        ({"a": b"bytes"}, ("a",), "a value of type bytes is not JSON-compatible"),
    ],
)
def test_mapping_input_must_be_json_compatible(
    source: dict[Any, Any], path: tuple[str | int, ...], message: str
) -> None:
    doc = load_document(source, environ={})
    finding = refused(doc)
    assert finding.path == path
    assert finding.message == message


def test_mapping_input_limits() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert refused(load_document(cyclic, environ={})).message == "nesting deeper than 64 levels"
    wide = {"a": list(range(50))}
    assert refused(load_document(wide, environ={}, max_nodes=10)).message == (
        "document has more than 10 nodes"
    )


def test_source_must_be_a_path_or_mapping() -> None:
    with pytest.raises(TypeError):
        load_document(42, environ={})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_document(b"Dockfile.yaml", environ={})  # type: ignore[arg-type]


# -- the pure-Python parser --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, {c: 2.5}]\nd: &d {e: ~}\nf: *d\ng: 'q'\n",
        "a: 1\nb: 2\n  c: 3\n",
        "a: 1\n---\nb: 2\n",
        "[" * 100 + "]" * 100,
        "a: 1\na: 2\n",
        "p: ${P:-80}\nq: '${P:-80}'\n",
        "d: 2001-12-14\non: yes\n",
        "é: [ü, 日本]\nx: {ä: 1}\n",
    ],
)
def test_pure_python_parser_agrees(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast = load(tmp_path, text)
    monkeypatch.setattr(yamlcompose, "_Parser", yaml.SafeLoader)
    slow = load(tmp_path, text)
    assert slow.data == fast.data
    assert dict(slow.source_map) == dict(fast.source_map)
    assert [(f.code, f.path, f.line) for f in slow.findings] == [
        (f.code, f.path, f.line) for f in fast.findings
    ]
