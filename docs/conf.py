"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build``.

The API pages come from the numpydoc docstrings (autosummary writes ``docs/generated/``);
the gallery runs ``examples/plot_*.py`` at build time into ``docs/auto_examples/`` (both
generated, never committed). ``-D plot_gallery=0`` builds without running the examples.
"""

import os

import peronamalik

os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "peronamalik"
author = "peronamalik developers"
copyright = "the peronamalik developers"
release = peronamalik.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build"]
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = "peronamalik"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",  # plot_1_..., plot_2_...
    "download_all_examples": False,
}
