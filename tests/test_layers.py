"""The package's layers point one way, and what a layer costs to import stays what it should.

Each module's imports of ``webhooks_lab`` (at the top or inside functions, but not under
``if TYPE_CHECKING:``) may only reach its own layer or one below it, and peers on one level never
import each other. The face (``webhooks_lab/__init__.py``) loads lazily and is exempt.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webhooks_lab"

# Lowest first. A module may import its own layer and any layer with a lower number.
LAYERS: dict[str, int] = {
    # wire formats, schedules and plain records: no I/O, no server, no client
    "errors": 0,
    "limits": 0,
    "strict_json": 0,
    "events": 0,
    "signing": 0,
    "cloud_events": 0,
    "handshakes": 0,
    "retry": 0,
    "course": 0,
    "i18n": 0,  # the learner's language: gettext catalogs
    "runtime": 1,  # clock, loop thread, server, listeners
    "http": 2,  # what every route shares
    "receiver": 3,  # HTTP in
    "sender": 3,  # HTTP out
    "jobs": 4,  # work that finishes later (its client waits on the inbox; completions are sent)
    "service": 5,  # the one ASGI app and its OpenAPI document
    "lab": 6,  # wires it all together
    "lessons": 7,  # what only the course needs, on top of a lab
    "widgets": 8,  # Jupyter views
    "checks": 9,  # exercise checks, which may show widgets
    "cli": 10,  # the command line wires what it needs
}
# Peers on one level that must stay apart.
APART = {("receiver", "sender"), ("sender", "receiver")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def package_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            # ``from webhooks_lab import signing`` names a module; ``__version__`` is the face's.
            names = [
                f"{base}.{a.name}" if base == "webhooks_lab" else base
                for a in node.names
                if not a.name.startswith("__")
            ]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.startswith("webhooks_lab.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_those_below(path):
    here = ".".join(("webhooks_lab", *path.relative_to(PACKAGE).with_suffix("").parts))
    mine = layer_of(here)
    assert mine in LAYERS, f"{here}: which layer is {mine!r}? add it to LAYERS"
    wrong = []
    for line, imported in package_imports(path):
        theirs = layer_of(imported)
        assert theirs in LAYERS, f"{here}:{line} imports {imported}, in no known layer"
        if LAYERS[theirs] > LAYERS[mine] or (mine, theirs) in APART:
            wrong.append(f"line {line}: {imported} ({theirs}, layer {LAYERS[theirs]})")
    assert not wrong, f"{here} ({mine}, layer {LAYERS[mine]}) reaches up or across:\n" + "\n".join(
        wrong
    )


def test_every_folder_of_the_package_is_a_known_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    folders.discard("course")  # where a wheel puts the notebooks, not code
    assert folders <= set(LAYERS), folders - set(LAYERS)


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return {name.split(".")[0] for name in result.stdout.split()}


def test_signing_loads_no_server_and_no_client():
    loaded = loaded_after("import webhooks_lab.signing")
    assert not loaded & {"uvicorn", "starlette", "httpx", "aiohttp", "httptools", "anyio"}


def test_the_face_loads_nothing_until_a_name_is_used():
    loaded = loaded_after("import webhooks_lab")
    assert not loaded & {"uvicorn", "starlette", "httpx", "aiohttp", "ipywidgets", "IPython"}


def test_the_face_lists_what_it_offers_and_each_name_resolves():
    code = (
        "import webhooks_lab\n"
        "for name in webhooks_lab.__all__: getattr(webhooks_lab, name)\n"
        "print(len(webhooks_lab.__all__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(result.stdout) >= 20
