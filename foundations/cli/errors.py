"""Short, actionable messages for recipe errors instead of jsonargparse's full usage dump."""

from __future__ import annotations

import re

_PARSER_KEY = re.compile(r'Parser key "([^"]+)"')
_CLASS_PATH = re.compile(r"class_path '([^']+)'")
_OPTION = re.compile(r"Option '([^']+)' is not accepted")
_NOISE = ("Expected a <class 'NoneType'>", "Given value type:", "Given value:", "Subtypes:")


def summarise_parser_error(message: str) -> str:
    """Name the offending key of a nested recipe error in one line.

    ``Parser key "model" ... class_path 'pkg.SimCLR' ... Parser key "encoder" ...
    class_path 'pkg.Encoder' ... Option 'dept' is not accepted`` becomes
    ``unknown key 'model.encoder.dept': pkg.Encoder has no parameter 'dept'``.
    Other messages are returned without the union-type noise.
    """
    option = _OPTION.search(message)
    if option:
        keys = _PARSER_KEY.findall(message)
        owners = _CLASS_PATH.findall(message)
        key = ".".join([*keys, option.group(1)])
        owner = owners[-1] if owners else "the recipe"
        return f"unknown key {key!r}: {owner} has no parameter {option.group(1)!r}"
    lines = [line for line in message.splitlines() if not line.strip().startswith(_NOISE)]
    return "\n".join(lines)
