"""Command-line arguments sphinx-gallery gives the examples it executes.

The examples are command-line scripts; run by the documentation build, those
that save a figure write it to a scratch file instead of the examples folder
(the gallery shows the figure itself, captured from matplotlib).
"""

import os
import tempfile

# Examples with an ``--output`` option for their figure.
WRITES_FIGURE = ("softmax_demo.py", "regularization_path.py", "feature_scaling.py")


def example_argv(gallery_conf, script_vars):
    """Extra ``sys.argv`` for one example run by sphinx-gallery.

    Parameters
    ----------
    gallery_conf : dict
        sphinx-gallery's configuration.
    script_vars : dict
        Holds ``src_file``, the example's path.

    Returns
    -------
    list of str
    """
    name = os.path.basename(script_vars["src_file"])
    if name in WRITES_FIGURE:
        scratch = os.path.join(tempfile.gettempdir(), "fastsoftmax-docs-examples")
        os.makedirs(scratch, exist_ok=True)
        return ["--output", os.path.join(scratch, name.replace(".py", ".png"))]
    return []


# The gallery's reading order: first steps, then features, then the timing
# script; an example missing from the list goes last, by file name.
READING_ORDER = (
    "softmax_demo.py",
    "feature_scaling.py",
    "text_classification.py",
    "soft_targets.py",
    "cost_sensitive.py",
    "regularization_path.py",
    "progress.py",
    "large_comparison.py",
)


class ReadingOrder:
    """sphinx-gallery sort key: the position of an example in ``READING_ORDER``.

    Parameters
    ----------
    src_dir : str
        The gallery's source directory (unused; sphinx-gallery passes it).
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Sort key of one example file name.

        Parameters
        ----------
        filename : str

        Returns
        -------
        tuple of (int, str)
        """
        name = os.path.basename(str(filename))
        position = READING_ORDER.index(name) if name in READING_ORDER else len(READING_ORDER)
        return position, name

    def __repr__(self):
        return "ReadingOrder"
