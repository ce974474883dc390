"""`direct_init`: a quicker `__init__` for the frozen, slotted dataclasses built on every request.

A frozen dataclass's generated `__init__` stores each field through
`object.__setattr__(self, name, value)`, which looks the name up on the type
for every field of every instance. The values the domain builds per write
and per listed entry (`Entry`, `Write`, `Written`, `Change`, `Outcome`, ...)
are built often enough for that to show. `direct_init` replaces the
generated `__init__` with one that stores each field through its slot's own
descriptor, found once when the class is defined.

Nothing else changes: the same signature and defaults, the same equality,
hashing, repr and ordering, and assignment after construction still raises
`FrozenInstanceError`. Only classes whose `__init__` is the dataclass's own
(no `__post_init__`, no `InitVar`, no default factory) are accepted.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def direct_init(cls: type[T]) -> type[T]:
    """Give `cls`, a frozen dataclass with slots, an `__init__` that sets its slots directly."""
    params = cls.__dict__.get("__dataclass_params__")
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which direct_init would skip")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {}
    args: list[str] = []
    body: list[str] = []
    for field in fields:
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: only plain fields are supported")
        namespace[f"_set_{field.name}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            args.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            args.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(self, {field.name})")
    source = f"def __init__(self, {', '.join(args)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # the way dataclasses builds its own __init__
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 (mypy refuses assigning to a method)
    return cls
