"""The export of another revision that compare_revisions.py imports beside
this checkout."""

import os
import shutil
import subprocess

import pytest
from compare_revisions import BASE_PACKAGE, absolute_imports, export_revision, resolve_commit

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _in_git_checkout():
    if shutil.which("git") is None:
        return False
    result = subprocess.run(
        ["git", "-C", REPOSITORY, "rev-parse", "--verify", "HEAD"], capture_output=True
    )
    return result.returncode == 0


needs_git = pytest.mark.skipif(not _in_git_checkout(), reason="not a git checkout")


def test_absolute_imports_finds_imports_by_name_and_not_docstrings(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "clean.py").write_text(
        '"""Example::\n\n    from fastsoftmax.kernels.rows import row_logsumexp\n"""\n'
        "from .sub import helper\nimport fastsoftmaxish\n"
    )
    (package / "sub" / "by_name.py").write_text(
        "import os\nfrom fastsoftmax.kernels import rows\n\n\ndef f():\n    import fastsoftmax\n"
    )
    assert absolute_imports(str(package)) == [
        (os.path.join("sub", "by_name.py"), 2),
        (os.path.join("sub", "by_name.py"), 6),
    ]


@needs_git
def test_export_of_head_is_a_package_of_its_own_name(tmp_path):
    commit = resolve_commit("HEAD", REPOSITORY)
    root = export_revision(commit, str(tmp_path), REPOSITORY)
    assert os.path.isfile(os.path.join(root, BASE_PACKAGE, "__init__.py"))
    assert os.path.isfile(os.path.join(root, BASE_PACKAGE, "kernels", "dense.py"))
    assert not os.path.exists(os.path.join(root, "fastsoftmax"))
    # A second export of the same commit reuses the first (and its Numba cache).
    marker = os.path.join(root, BASE_PACKAGE, "marker")
    open(marker, "w").close()
    assert export_revision(commit, str(tmp_path), REPOSITORY) == root
    assert os.path.exists(marker)


@needs_git
def test_unknown_revision_is_named_in_the_error():
    with pytest.raises(ValueError, match="'no-such-revision' is not a commit"):
        resolve_commit("no-such-revision", REPOSITORY)
