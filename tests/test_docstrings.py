"""numpydoc validation of the docstring of every public name.

Public names: ``fastsoftmax.__all__``, the row helpers in
``fastsoftmax.kernels.__all__``, and the public methods the public classes
define themselves (methods inherited from scikit-learn, such as
``get_params``, are scikit-learn's to document).

Checked: the codes in ``CHECKED`` below (structure, parameters and returns
that match the signature, a description for every parameter and return
value). Ignored, in ``IGNORED`` with the reason for each: the codes that
ask for style this project does not follow (summaries as noun phrases,
descriptions that start with a code literal) or sections it does not
require everywhere (See Also, Examples, an extended summary).

On top of numpydoc's checks: every array-valued parameter, return value and
attribute states its shape ("ndarray of shape (n_samples, n_classes)").
"""

import dataclasses
import inspect

import pytest

validate_module = pytest.importorskip("numpydoc.validate")  # in the test extra
docscrape = pytest.importorskip("numpydoc.docscrape")

import fastsoftmax  # noqa: E402
import fastsoftmax.kernels  # noqa: E402

CHECKED = {
    "GL01": "summary on the line of, or right after, the opening quotes",
    "GL02": "closing quotes on their own line",
    "GL03": "no double blank lines",
    "GL05": "no tabs",
    "GL06": "only numpydoc's section names",
    "GL07": "sections in numpydoc's order",
    "GL08": "a docstring exists",
    "GL09": "deprecation notes before the extended summary",
    "GL10": "reST directives end with '::'",
    "SS01": "a summary line",
    "SS02": "summary starts with a capital letter",
    "SS03": "summary ends with a period",
    "SS04": "no leading whitespace in the summary",
    "PR01": "every parameter of the signature documented",
    "PR02": "no documented parameter that the signature lacks",
    "PR03": "parameters in the order of the signature",
    "PR04": "every parameter has a type",
    "PR05": "parameter types do not end with a period",
    "PR06": "numpydoc's type names (int, bool, str)",
    "PR07": "every parameter has a description",
    "PR10": "a space before the colon of 'name : type'",
    "RT01": "a Returns section when something is returned",
    "RT02": "a single return value is given by its type, not a name",
    "RT03": "every return value has a description",
    "YD01": "a Yields section for generators",
    "SA02": "See Also descriptions end with a period",
    "SA03": "See Also descriptions start with a capital letter",
    "SA04": "See Also entries have a description",
}

IGNORED = {
    "ES01": "an extended summary is not needed where the summary says it all",
    "SA01": "See Also is written where it helps, not everywhere",
    "EX01": "Examples are given for the estimators and main functions, not every helper",
    "SS05": "summaries may be noun phrases ('Class probabilities.'), the house style",
    "SS06": "a summary may need a second line to be exact",
    "PR08": "a description may start with a code literal or a lowercase name",
    "PR09": "a description may end with a code literal or a list",
    "RT04": "as PR08, for return values",
    "RT05": "as PR09, for return values",
}


def test_every_code_is_either_checked_or_ignored():
    assert set(CHECKED) | set(IGNORED) == set(validate_module.ERROR_MSGS)
    assert not set(CHECKED) & set(IGNORED)


def public_names():
    """Dotted names of every public object whose docstring is checked."""
    names = [f"fastsoftmax.{n}" for n in fastsoftmax.__all__ if n != "__version__"]
    names += [f"fastsoftmax.kernels.{n}" for n in fastsoftmax.kernels.__all__]
    methods = []
    for name in names:
        obj = resolve(name)
        if inspect.isclass(obj):
            for attr in sorted(dir(obj)):
                member = getattr(obj, attr)
                if (
                    not attr.startswith("_")
                    and callable(member)
                    and getattr(member, "__module__", "").startswith("fastsoftmax")
                ):
                    methods.append(f"{name}.{attr}")
    return names + methods


def resolve(name):
    """The object a dotted public name refers to."""
    for module in (fastsoftmax.kernels, fastsoftmax):  # the longer prefix first
        prefix = module.__name__ + "."
        if name.startswith(prefix):
            obj = module
            for part in name.removeprefix(prefix).split("."):
                obj = getattr(obj, part)
            return obj
    raise ValueError(f"{name} is not a fastsoftmax name")


def dataclass_fields_documented(obj):
    """True if ``obj`` is a dataclass whose fields all appear under Attributes.

    A dataclass's fields are its constructor's parameters; the public ones
    (results handed to the user) document them once, as Attributes.
    """
    if not (inspect.isclass(obj) and dataclasses.is_dataclass(obj)):
        return False
    attributes = {entry.name for entry in docscrape.ClassDoc(obj)["Attributes"]}
    return {field.name for field in dataclasses.fields(obj)} <= attributes


@pytest.mark.parametrize("name", public_names())
def test_numpydoc_validation(name):
    result = validate_module.validate(name)
    errors = [(code, message) for code, message in result["errors"] if code in CHECKED]
    if dataclass_fields_documented(resolve(name)):
        errors = [(code, message) for code, message in errors if code != "PR01"]
    assert not errors, f"{name} ({result['file']}:{result['file_line']}): " + "; ".join(
        f"{code} {message}" for code, message in errors
    )


ARRAY_TYPES = ("ndarray", "array-like", "sparse matrix", "array ")


@pytest.mark.parametrize("name", public_names())
def test_array_entries_state_their_shape(name):
    obj = resolve(name)
    if inspect.isclass(obj):
        doc = docscrape.ClassDoc(obj)
    else:
        doc = docscrape.FunctionDoc(getattr(obj, "py_func", obj))
    missing = [
        f"{section}: {entry.name or entry.type}"
        for section in ("Parameters", "Returns", "Attributes")
        for entry in doc[section]
        if any(word in entry.type for word in ARRAY_TYPES) and "shape" not in entry.type
    ]
    assert not missing, f"{name}: array entries without a shape: {missing}"
