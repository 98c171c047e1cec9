"""Reading YAML that a user (or anyone) hands us, without letting it exhaust the machine.

`yaml.safe_load` runs no code, but a few hundred bytes of nested aliases expand into
gigabytes once anything walks the result, a huge or deeply nested file costs minutes and
memory, and a repeated key silently replaces an earlier block. `load` refuses each of these
with one line naming the file and the place, before any value is built:

- the file is larger than MAX_FILE_BYTES, not UTF-8, or binary;
- collections nest deeper than MAX_DEPTH;
- aliases would expand the document past MAX_NODES values (a billion-laughs bomb);
- a mapping repeats a key (both lines are named).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trainfleet.errors import SpecError, excerpt

MAX_FILE_BYTES = 256 * 1024  # the largest job in jobs/ is ~2 KB
MAX_SET_BYTES = 4 * 1024  # one --set value
MAX_DEPTH = 32
MAX_NODES = 20_000  # values after alias expansion; a full job is a few hundred


class MalformedYAML(SpecError):
    """The text is not YAML at all (as opposed to YAML we refuse to expand)."""


def read_file(path: str | Path) -> Any:
    """The parsed YAML document of a file, or a SpecError naming the file and the problem."""
    p = Path(path)
    try:
        if not p.is_file():
            raise SpecError("no such job file", file=str(path))
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(
                f"the file is {size:,} bytes; job files are at most {MAX_FILE_BYTES:,} bytes", file=str(path)
            )
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read the job file: {err.strerror or err}", file=str(path)) from None
    return load(data, source=str(path))


def load(data: bytes | str, *, source: str, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Parse one YAML document from `data` under the limits above; `source` names it in errors."""
    text = _decode(data, source, max_bytes)
    try:
        _check_depth(text, source)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_node(node, source)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise _malformed(err, source) from None


def _decode(data: bytes | str, source: str, max_bytes: int) -> str:
    try:  # a str from argv holds undecodable bytes as surrogate escapes: get those bytes back
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    except UnicodeEncodeError:
        raise SpecError("not UTF-8 text (it holds an unpaired surrogate)", file=source) from None
    if len(raw) > max_bytes:
        raise SpecError(f"{len(raw):,} bytes is too large; the limit is {max_bytes:,} bytes", file=source)
    if b"\x00" in raw:
        raise SpecError("this is a binary file, not YAML text (it holds NUL bytes)", file=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError(
            f"not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line} (save the file as UTF-8)", file=source
        ) from None


def _malformed(err: yaml.YAMLError, source: str) -> SpecError:
    mark = getattr(err, "problem_mark", None)
    if mark is None:
        return MalformedYAML(f"malformed YAML: {excerpt(err, 200, quote=False)}", file=source)
    return MalformedYAML(
        f"malformed YAML at line {mark.line + 1}, column {mark.column + 1}: {excerpt(err.problem, 200, quote=False)}",
        file=source,
    )


def _check_depth(text: str, source: str) -> None:
    """Nesting depth from the event stream, which (unlike composing) is not recursive."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise SpecError(f"nested deeper than {MAX_DEPTH} levels (line {line})", file=source)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_node(root: yaml.Node, source: str) -> None:
    """Refuse duplicate keys, self-referencing aliases and documents that expand past MAX_NODES.

    The composed graph shares aliased nodes, so the expanded size of each node is computed
    once and summed: linear in the file, whatever the aliases would expand to.
    """
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    in_progress: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in expanded:
            continue
        children = _children(node)
        if not children_done:
            if key in in_progress:
                raise SpecError(f"line {node.start_mark.line + 1}: an alias refers to its own anchor", file=source)
            in_progress.add(key)
            if isinstance(node, yaml.MappingNode):
                _check_duplicate_keys(node, source)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in expanded)
            continue
        in_progress.discard(key)
        expanded[key] = total = 1 + sum(expanded[id(child)] for child in children)
        if total > MAX_NODES:
            raise SpecError(
                f"line {node.start_mark.line + 1}: aliases expand this document past {MAX_NODES:,} values "
                "(a job needs a few hundred); write the values out instead",
                file=source,
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_duplicate_keys(node: yaml.MappingNode, source: str) -> None:
    seen: dict[Any, int] = {}
    for k, _ in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
            continue
        line = k.start_mark.line + 1
        if k.value in seen:
            raise SpecError(
                f"key {excerpt(k.value)} appears twice (lines {seen[k.value]} and {line}); the second would "
                "silently replace the first",
                file=source,
            )
        seen[k.value] = line
