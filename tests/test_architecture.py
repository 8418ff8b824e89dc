"""The shape of the code, read from its imports with `ast`: layers, adapters and sizes.

`rag/` is layered, each layer importing only its own and lower ones:
vocabulary (the modules at the top of rag/) -> providers -> stores -> search and knowledge
bases (kb) -> chat and eval (side by side, neither importing the other) -> lab and
access (people and what they may do) -> the composition root (rag/engine.py) -> command
lines (rag/commands/ and the `__main__` entry points).
`ingest/` builds on `rag/`, never the reverse; neither imports streamlit. Each outside
library with an adapter is imported by that adapter alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("rag", "ingest", "pages")

LAYERS = {
    "providers": 1,
    "stores": 2,
    "search": 3,
    "kb": 3,
    "chat": 4,
    "eval": 4,
    "lab": 5,
    "access": 5,
}
ROOT_LAYER, COMMAND_LAYER = 6, 7
# Each library with an adapter, and the only module allowed to import it.
ADAPTERS = {
    "chromadb": {"rag/stores/chroma.py"},
    "tantivy": {"rag/stores/lexical.py"},
    "pypdf": {"ingest/pdf_worker.py"},
    "rapidocr": {"ingest/ocr.py"},
    "pypdfium2": {"ingest/viewer/pdfium.py"},
    "docx": {"ingest/formats/docx.py"},
    "pptx": {"ingest/formats/pptx.py"},
    "openpyxl": {"ingest/formats/xlsx.py"},
    "selectolax": {"ingest/formats/html.py"},
    "defusedxml": {"ingest/formats/archive.py"},
    "lxml": {"ingest/formats/docx.py"},
    "fastembed": {"rag/providers/embeddings.py", "rag/providers/rerankers.py"},
    "httpx": {"rag/providers/rerankers.py"},
    "onnx": {"rag/providers/int8.py"},
    "mcp": {"rag/api/mcp_server.py"},
    "onnxruntime": {"rag/providers/int8.py"},
    "langchain_openai": {"rag/providers/chat_model.py"},
    "openai": {
        "rag/providers/chat_model.py",
        "rag/providers/embeddings.py",
        "rag/providers/model_errors.py",
    },
}
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_RAG_TOP_MODULES = 300, 40, 14


@dataclass(frozen=True)
class Module:
    """One product module: its path from the root, its dotted name and what it imports."""

    path: str
    name: str
    imports: frozenset[str]
    tree: ast.Module
    lines: int


def _imports(tree: ast.Module) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return frozenset(found)


def _module(path: Path) -> Module:
    relative = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    name = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return Module(relative, name, _imports(tree), tree, len(text.splitlines()))


MODULES = [
    _module(path)
    for package in PRODUCT
    for path in sorted((ROOT / package).rglob("*.py"))
    if ".venv" not in path.parts
] + [_module(ROOT / "app.py")]
RAG = [m for m in MODULES if m.name.split(".")[0] == "rag"]


def layer_of(name: str) -> int:
    """The layer of a dotted `rag` module name (0: the vocabulary at the top of rag/)."""
    parts = name.split(".")
    if parts[-1] == "__main__" or parts[1:2] in (["commands"], ["api"]):
        return COMMAND_LAYER
    if name == "rag.engine":
        return ROOT_LAYER
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return LAYERS[parts[1]]
    return 0


def _owned(modules: list[Module], root: str) -> list[tuple[Module, str]]:
    return [
        (module, imported)
        for module in modules
        for imported in module.imports
        if imported.split(".")[0] == root
    ]


def test_rag_and_ingest_never_import_streamlit():
    offenders = [m.path for m, _ in _owned(MODULES, "streamlit") if m.path.startswith(PRODUCT[:2])]
    assert offenders == []


def test_rag_never_imports_ingest():
    assert [(m.path, name) for m, name in _owned(RAG, "ingest")] == []


def test_each_rag_layer_imports_only_its_own_and_lower_layers():
    upward = [
        (module.path, imported)
        for module, imported in _owned(RAG, "rag")
        if layer_of(imported) > layer_of(module.name)
    ]
    assert upward == []


def test_chat_and_eval_stand_side_by_side():
    sideways = [
        (module.path, imported)
        for module, imported in _owned(RAG, "rag")
        if {module.name.split(".")[1:2][0], imported.split(".")[1:2][0]} == {"chat", "eval"}
    ]
    assert sideways == []


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_an_outside_library_is_imported_by_its_adapter_only(library):
    importers = {module.path for module, _ in _owned(MODULES, library)}
    assert importers <= ADAPTERS[library]


@pytest.mark.parametrize("library", ["fastapi", "starlette", "uvicorn"])
def test_the_web_framework_stays_in_the_http_service(library):
    # The HTTP service is the framework's adapter as a whole: one module per kind of route.
    importers = {module.path for module, _ in _owned(MODULES, library)}
    assert all(path.startswith("rag/api/") for path in importers), importers


def test_the_vocabulary_stays_small():
    top = [m.path for m in RAG if m.path.count("/") == 1]
    assert len(top) <= MAX_RAG_TOP_MODULES, top


def test_no_module_is_over_300_lines():
    assert [(m.path, m.lines) for m in MODULES if m.lines > MAX_MODULE_LINES] == []


def test_no_function_is_over_40_lines():
    long = [
        (module.path, node.name, node.end_lineno - node.lineno + 1)
        for module in MODULES
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_the_layer_rule_is_checked_on_real_names():
    # The rule above would pass vacuously if the names were read wrongly.
    assert layer_of("rag.results") == 0
    assert layer_of("rag.stores.library") == 2
    assert layer_of("rag.search.__main__") == COMMAND_LAYER
    assert layer_of("rag.engine") == ROOT_LAYER
    assert len(RAG) > 30
