"""The one base for every settings class (server, LLM, agents): where ``.env`` is, and how a bad
value becomes one ``ConfigError`` line that names the variable and says what it accepts.

What a field accepts is read from the field itself: its type and constraints (``ge``, ``le``, a
``Literal`` or an enum), plus its ``description`` for what those cannot say (units, formats). So a
new setting gets a clear start-up error without a second, hand-kept list to update.
"""

from __future__ import annotations

import os
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, PrivateAttr, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from director.constants import ENV_FILE
from director.errors import ConfigError

# A rejected value is quoted back to help spot a typo, but only this much of it.
_MAX_SHOWN = 80


def env_file() -> Path:
    """The ``.env`` file settings read, resolved when settings are built (not at import) so tests
    and deployments can point it elsewhere with ``DIRECTOR_ENV_FILE``."""
    override = os.environ.get("DIRECTOR_ENV_FILE")
    return Path(override) if override else ENV_FILE


class DirectorSettings(BaseSettings):
    """Env vars beat the ``.env`` file (pydantic-settings' order); a bad value raises ``ConfigError``.

    Pass ``_env_file=None`` to ignore ``.env`` entirely (tests do).
    """

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore")

    # The .env file this instance was read from (None: none), for values read outside the fields,
    # such as a provider's own API key variable.
    _env_path: Path | None = PrivateAttr(default=None)

    def __init__(self, **values: Any):
        values.setdefault("_env_file", env_file())
        env_path = values["_env_file"]
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise config_error(type(self), exc) from None
        self._env_path = Path(env_path) if isinstance(env_path, str | Path) else None

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable a user sets for ``field``: its upper-case alias, else prefix + name."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        if isinstance(alias, AliasChoices):
            upper = [str(c) for c in alias.choices if isinstance(c, str) and c.isupper()]
            if upper:
                return upper[0]
        return str(cls.model_config.get("env_prefix", "")) + field.upper()

    @classmethod
    def field_for(cls, loc: str) -> str | None:
        """The field an error location names (the field, or one of its aliases in any case)."""
        for name, info in cls.model_fields.items():
            names = {name, cls.env_name(name)}
            if isinstance(info.validation_alias, AliasChoices):
                names |= {str(c) for c in info.validation_alias.choices}
            if loc.lower() in {n.lower() for n in names}:
                return name
        return None

    @classmethod
    def accepted(cls, field: str) -> str:
        return accepted_values(cls.model_fields[field])


def config_error(cls: type[DirectorSettings], exc: ValidationError) -> ConfigError:
    """pydantic's first error as one line: the variable, what it accepts, and what it got."""
    error = exc.errors()[0]
    loc = str(error["loc"][0]) if error.get("loc") else ""
    field = cls.field_for(loc)
    if field is None:
        return ConfigError(
            loc or "a setting", "a valid value", f"{loc or 'A setting'} is invalid: {error['msg']}"
        )
    variable = cls.env_name(field)
    accepted = cls.accepted(field)
    detail = ""
    # Never quote a secret back, not even in part; other values help the user spot a typo.
    if not _is_secret(cls.model_fields[field]):
        shown = repr(error.get("input"))
        if len(shown) > _MAX_SHOWN:
            shown = shown[: _MAX_SHOWN - 1] + "…"
        reason = error["msg"].removeprefix("Value error, ") if error["type"] == "value_error" else ""
        detail = f"; got {shown}{': ' + reason if reason else ''}"
    return ConfigError(variable, accepted, f"{variable} must be {accepted}{detail}.")


def accepted_values(info: FieldInfo) -> str:
    """What a field accepts, in words: from its type and constraints, plus its description."""
    kind = _describe_type(_unwrap_optional(info.annotation))
    if kind is None:
        return info.description or "a valid value"
    bounds = _describe_bounds(info.metadata)
    words = f"{kind} {bounds}" if bounds else kind
    return f"{words} ({info.description})" if info.description else words


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _describe_type(annotation: Any) -> str | None:
    """Words for the types whose accepted values can be spelt out; None for free-form ones."""
    if annotation is bool:
        return "true or false"
    if get_origin(annotation) is Literal:
        return _or_list([str(a) for a in get_args(annotation)])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _or_list([str(m.value) for m in annotation])
    if annotation is int:
        return "a whole number"
    if annotation is float:
        return "a number"
    return None


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe_bounds(metadata: list[Any]) -> str:
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"at least {_number(item.ge)}", _number(item.ge)
        elif isinstance(item, annotated_types.Gt):
            low = f"greater than {_number(item.gt)}", None
        elif isinstance(item, annotated_types.Le):
            high = f"at most {_number(item.le)}", _number(item.le)
        elif isinstance(item, annotated_types.Lt):
            high = f"less than {_number(item.lt)}", None
    if low and high:
        if low[1] is not None and high[1] is not None:
            return f"between {low[1]} and {high[1]}"
        return f"{low[0]} and {high[0]}"
    if low:
        return f"of {low[0]}" if low[1] is not None else low[0]
    return high[0] if high else ""


def _is_secret(info: FieldInfo) -> bool:
    return _unwrap_optional(info.annotation) is SecretStr
