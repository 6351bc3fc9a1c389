"""pyproject.toml and the requirements files state the same dependencies (zoo users install from
requirements.txt, scripts/setup.sh from requirements*.txt, pip from pyproject.toml: one list must
not drift from the other)."""
import glob
import os

import pytest
from packaging.requirements import Requirement  # pytest's own dependency
from packaging.utils import canonicalize_name

from tests.helpers import ROOT

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

# each requirements file and the pyproject list it must equal: None = [project] dependencies
REQUIREMENT_FILES = {"requirements.txt": None, "requirements-test.txt": "test", "requirements-bench.txt": "bench"}


def normalised(lines: list) -> list:
    """Requirement strings as comparable tuples: canonical name, extras, specifier set, marker."""
    out = []
    for line in lines:
        req = Requirement(line)
        out.append((canonicalize_name(req.name), tuple(sorted(req.extras)),
                    tuple(sorted(str(spec) for spec in req.specifier)), str(req.marker or "")))
    return sorted(out)


def requirement_lines(path: str) -> list:
    """The requirements of a pip requirements file: comments and blank lines dropped."""
    lines = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                assert not line.startswith("-"), f"{path}: pip options are not mirrored in pyproject.toml: {line}"
                lines.append(line)
    return lines


def pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)


def test_every_requirements_file_has_a_pyproject_list():
    found = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "requirements*.txt")))
    assert found == sorted(REQUIREMENT_FILES)


@pytest.mark.parametrize("filename,extra", REQUIREMENT_FILES.items())
def test_pyproject_lists_equal_the_requirements_files(filename, extra):
    project = pyproject()["project"]
    declared = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    assert normalised(declared) == normalised(requirement_lines(os.path.join(ROOT, filename)))


def test_runtime_requirements_hold_no_test_tools():
    runtime = {name for name, *_ in normalised(pyproject()["project"]["dependencies"])}
    test_tools = {name for name, *_ in normalised(requirement_lines(os.path.join(ROOT, "requirements-test.txt")))}
    assert test_tools and not runtime & test_tools

