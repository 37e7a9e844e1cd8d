"""Sphinx configuration of the fastsoftmax documentation.

Build from the repository root (after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Markdown pages (docs/*.md) go through MyST, so they read the same on GitHub;
the API reference comes from the numpydoc docstrings (autodoc, autosummary,
numpydoc); examples/*.py become the gallery (sphinx-gallery), executed during
the build except the timing scripts listed in ``NOT_EXECUTED``.
"""

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
# Document the checkout these pages belong to, even if another copy of the
# package is installed; docs/_ext holds helpers the configuration names by
# import path.
sys.path.insert(0, os.path.dirname(DOCS))
sys.path.insert(0, os.path.join(DOCS, "_ext"))

import fastsoftmax  # noqa: E402

project = "fastsoftmax"
author = "the fastsoftmax developers"
copyright = "the fastsoftmax developers"
release = fastsoftmax.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "_ext", "_static"]

# -- Markdown -------------------------------------------------------------------
# Heading anchors as GitHub makes them, so "[text](page.md#a-heading)" links
# work on GitHub and in the site alike; $...$ and $$...$$ are maths on both.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]

# -- API reference --------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the types are in the numpydoc sections
autodoc_default_options = {"member-order": "bysource"}
# Methods are listed by the class template (autodoc), not by numpydoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Gallery --------------------------------------------------------------------
# Timing comparisons take minutes: shown with their code, never run by the build.
NOT_EXECUTED = ["large_comparison.py"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute every example except those in NOT_EXECUTED (a path matches when
    # the pattern is found in it).
    "filename_pattern": r"^((?!" + "|".join(n.replace(".", r"\.") for n in NOT_EXECUTED)
    + r").)*$",
    "reset_argv": "gallery_hooks.example_argv",
    "within_subsection_order": "gallery_hooks.ReadingOrder",
    "doc_module": ("fastsoftmax",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"fastsoftmax": None},
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 1,
}

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastsoftmax {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "performance": [], "reliability": [],
                 "architecture": [], "backend": []}
html_show_sourcelink = False
