"""Validate Bot API requests against a machine-readable spec.

The spec file (``bot-api.json``) maps method names to fields with their types and whether
they are required, and type names to their fields or subtypes. It is large, so it is
loaded and compiled once per process per path (``load_spec`` is cached).

Request values arrive in two shapes: form values are strings (non-string values
JSON-encoded, as python-telegram-bot sends them) and JSON bodies carry real JSON types.
Nested values are always real JSON.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox.html import ParsedText
from bot.sandbox.rules import OBJECT_RULES, Problem, check_method_rules

__all__ = [
    "SPEC_ENV_VAR",
    "ApiSpec",
    "FieldSpec",
    "MethodSpec",
    "ObjectSpec",
    "TypeRef",
    "UploadedFile",
    "Validation",
    "load_spec",
]

SPEC_ENV_VAR = "MOODCHECK_BOT_API_SPEC"
_SCALARS = frozenset({"Integer", "String", "Boolean", "Float", "True", "InputFile"})
_INT_RE = re.compile(r"-?[0-9]+")
_DISCRIMINATOR_RES = (
    re.compile(r"must be \*?\"?([A-Za-z0-9_-]+)\"?"),
    re.compile(r"always \u201c([A-Za-z0-9_-]+)\u201d"),
    re.compile(r"always \"([A-Za-z0-9_-]+)\""),
)
_ARRAY = "Array of "


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request.

    Attributes:
        filename: The client's file name.
        content_type: The part's content type.
        data: The file's bytes.
    """

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A parsed type expression: ``depth`` levels of "Array of" around ``base``."""

    base: str
    depth: int = 0

    @classmethod
    def parse(cls, text: str) -> TypeRef:
        """Parse ``"Array of Array of X"`` into ``TypeRef("X", 2)``."""
        depth = 0
        while text.startswith(_ARRAY):
            text = text[len(_ARRAY) :]
            depth += 1
        return cls(text, depth)

    def inner(self) -> TypeRef:
        """The element type of an array type."""
        return TypeRef(self.base, self.depth - 1)

    def __str__(self) -> str:
        return _ARRAY * self.depth + self.base


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One parameter of a method or field of an object type."""

    name: str
    types: tuple[TypeRef, ...]
    required: bool

    @property
    def label(self) -> str:
        """Human-readable type, e.g. ``Integer or String``."""
        return " or ".join(str(t) for t in self.types)


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A Bot API method: canonical name and parameters."""

    name: str
    fields: Mapping[str, FieldSpec]


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """An object type: either fields, or subtypes (a union such as ``BotCommandScope``).

    ``discriminators`` maps a field name (usually ``type``) to value -> subtype name.
    """

    name: str
    fields: Mapping[str, FieldSpec] | None
    subtypes: tuple[str, ...] = ()
    discriminators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(slots=True)
class Validation:
    """Outcome of validating one request.

    Attributes:
        params: Decoded parameters (ints, bools, dicts, lists, strings, ``UploadedFile``).
        problems: Everything wrong with the request; empty when it is valid.
        parsed: Plain text and entities of ``text``/``caption`` after parse_mode.
    """

    params: dict[str, Any]
    problems: list[Problem]
    parsed: dict[str, ParsedText]


def _short(value: object) -> str:
    text = (
        json.dumps(value, ensure_ascii=False) if not isinstance(value, UploadedFile) else "a file"
    )
    return text if len(text) <= 40 else text[:37] + "..."


def _compile_fields(raw: list[dict[str, Any]]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(
            f["name"], tuple(TypeRef.parse(t) for t in f["types"]), bool(f.get("required"))
        )
        for f in raw
    }


def _discriminator_value(description: str) -> str | None:
    for pattern in _DISCRIMINATOR_RES:
        match = pattern.search(description)
        if match:
            return match.group(1)
    return None


class ApiSpec:
    """A compiled Bot API spec that validates requests.

    Args:
        data: The spec JSON (``{"version", "methods", "types"}``).
        source: Where it came from, for messages (a path or ``"built-in"``).
    """

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.version = str(data.get("version", "unknown"))
        self.source = source
        self._methods: dict[str, MethodSpec] = {}
        for name, method in data.get("methods", {}).items():
            self._methods[name.lower()] = MethodSpec(
                name, _compile_fields(method.get("fields", []))
            )
        self._types: dict[str, ObjectSpec] = {}
        raw_types: Mapping[str, Any] = data.get("types", {})
        for name, spec in raw_types.items():
            if "subtypes" in spec:
                self._types[name] = ObjectSpec(
                    name, None, tuple(spec["subtypes"]), self._discriminators(spec, raw_types)
                )
            else:
                self._types[name] = ObjectSpec(name, _compile_fields(spec.get("fields", [])))

    @staticmethod
    def _discriminators(
        spec: Mapping[str, Any], raw_types: Mapping[str, Any]
    ) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for sub in spec["subtypes"]:
            for f in raw_types.get(sub, {}).get("fields", []):
                if f.get("required") and f["types"] == ["String"]:
                    value = _discriminator_value(str(f.get("description", "")))
                    if value is not None:
                        result.setdefault(f["name"], {})[value] = sub
                        break
        return result

    def method(self, name: str) -> MethodSpec | None:
        """Look a method up case-insensitively, as Telegram does."""
        return self._methods.get(name.lower())

    def object_type(self, name: str) -> ObjectSpec | None:
        """Look an object type up by exact name."""
        return self._types.get(name)

    def check_object(self, value: object, type_name: str) -> list[str]:
        """What is wrong with ``value`` as a ``type_name`` (e.g. an answer the sandbox
        gives, checked against the spec the way requests are); empty when it conforms."""
        problems: list[Problem] = []
        self._check_json(value, TypeRef(type_name), type_name, {}, problems)
        return [problem.message for problem in problems]

    @property
    def method_names(self) -> list[str]:
        """Canonical names of all methods in the spec."""
        return [m.name for m in self._methods.values()]

    def validate(self, method: MethodSpec, params: Mapping[str, object]) -> Validation:
        """Validate one request's parameters.

        Args:
            method: The method, from ``method()``.
            params: Raw parameters: form strings, JSON values or ``UploadedFile`` parts.

        Returns:
            The decoded parameters, problems (empty if valid) and parsed texts.
        """
        problems: list[Problem] = []
        decoded: dict[str, Any] = {}
        files = {k: v for k, v in params.items() if isinstance(v, UploadedFile)}
        attached: set[str] = set()
        for name, raw in params.items():
            spec = method.fields.get(name)
            if spec is None:
                if name not in files:
                    problems.append(Problem(name, f'unknown field "{name}" for {method.name}'))
                continue
            if isinstance(raw, str) and raw.startswith("attach://"):
                attached.add(raw.removeprefix("attach://"))
            decoded[name] = self._check_top(raw, spec, files, problems)
        problems.extend(
            Problem(name, f'unknown field "{name}" for {method.name}')
            for name in files
            if name not in method.fields and name not in attached
        )
        problems.extend(
            Problem(spec.name, f'field "{spec.name}" is required ({spec.label})')
            for spec in method.fields.values()
            if spec.required and spec.name not in params
        )
        if problems:
            return Validation(decoded, problems, {})
        rule_problems, parsed = check_method_rules(method.name, decoded)
        return Validation(decoded, rule_problems, parsed)

    def _check_top(
        self,
        raw: object,
        spec: FieldSpec,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        if isinstance(raw, UploadedFile):
            if any(t == TypeRef("InputFile") for t in spec.types):
                return raw
            problems.append(
                Problem(
                    spec.name, f'field "{spec.name}": expected {spec.label}, got a file upload'
                )
            )
            return None
        if not isinstance(raw, str):
            return self._check_union(raw, spec.types, spec.name, files, problems)
        scratch: list[Problem] = []
        objects = tuple(t for t in spec.types if t.depth > 0 or t.base not in _SCALARS)
        for type_ref in spec.types:
            if type_ref not in objects:
                scratch.clear()
                value = self._from_string(raw, type_ref, spec.name, files, scratch)
                if not scratch:
                    return value
        if objects:
            # Decode once, then let the union logic pick the matching object type.
            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = raw
            if not isinstance(loaded, str):
                scratch.clear()
                value = self._check_union(loaded, objects, spec.name, files, scratch)
                if not scratch or len(objects) == len(spec.types):
                    problems.extend(scratch)
                    return value
        if len(spec.types) == 1 and scratch:
            problems.extend(scratch)
        else:
            problems.append(
                Problem(
                    spec.name, f'field "{spec.name}": expected {spec.label}, got {_short(raw)}'
                )
            )
        return None

    def _from_string(
        self,
        raw: str,
        type_ref: TypeRef,
        path: str,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        base = type_ref.base
        if base == "String":
            return raw
        if base == "Integer":
            if _INT_RE.fullmatch(raw):
                return int(raw)
        elif base == "Float":
            try:
                return float(raw)
            except ValueError:
                pass
        elif base in {"Boolean", "True"}:
            if raw == "true":
                return True
            if raw == "false" and base == "Boolean":
                return False
        elif base == "InputFile":
            name = raw.removeprefix("attach://")
            if raw.startswith("attach://") and name in files:
                return files[name]
        problems.append(Problem(path, f'field "{path}": expected {type_ref}, got {_short(raw)}'))
        return None

    def _check_union(
        self,
        value: object,
        types: tuple[TypeRef, ...],
        path: str,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        if len(types) == 1:
            return self._check_json(value, types[0], path, files, problems)
        best: list[Problem] | None = None
        for type_ref in types:
            scratch: list[Problem] = []
            result = self._check_json(value, type_ref, path, files, scratch)
            if not scratch:
                return result
            if best is None or len(scratch) < len(best):
                best = scratch
        problems.extend(best or ())
        return None

    def _check_json(
        self,
        value: object,
        type_ref: TypeRef,
        path: str,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        if type_ref.depth > 0:
            if not isinstance(value, list):
                problems.append(
                    Problem(path, f'field "{path}": expected {type_ref}, got {_short(value)}')
                )
                return None
            inner = type_ref.inner()
            return [
                self._check_json(item, inner, f"{path}[{i}]", files, problems)
                for i, item in enumerate(value)
            ]
        base = type_ref.base
        ok: bool
        if base == "String":
            ok = isinstance(value, str)
        elif base == "Integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif base == "Float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif base == "Boolean":
            ok = isinstance(value, bool)
        elif base == "True":
            ok = value is True
        elif base == "InputFile":
            ok = isinstance(value, str) and value.removeprefix("attach://") in files
        else:
            return self._check_object(value, base, path, files, problems)
        if not ok:
            problems.append(Problem(path, f'field "{path}": expected {base}, got {_short(value)}'))
        return value

    def _check_object(
        self,
        value: object,
        type_name: str,
        path: str,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        spec = self._types.get(type_name)
        if not isinstance(value, dict):
            problems.append(
                Problem(path, f'field "{path}": expected {type_name} object, got {_short(value)}')
            )
            return None
        if spec is None:
            # A type the spec does not describe (cannot happen with the full spec); accept it.
            return value
        if spec.fields is None:
            return self._check_subtypes(value, spec, path, files, problems)
        for name, item in value.items():
            field_spec = spec.fields.get(name)
            if field_spec is None:
                problems.append(
                    Problem(f"{path}.{name}", f'unknown field "{path}.{name}" in {type_name}')
                )
                continue
            self._check_union(item, field_spec.types, f"{path}.{name}", files, problems)
        problems.extend(
            Problem(f"{path}.{f.name}", f'field "{path}.{f.name}" is required in {type_name}')
            for f in spec.fields.values()
            if f.required and f.name not in value
        )
        rule = OBJECT_RULES.get(type_name)
        if rule is not None:
            problems.extend(rule(value, path))
        return value

    def _check_subtypes(
        self,
        value: dict[str, Any],
        spec: ObjectSpec,
        path: str,
        files: Mapping[str, UploadedFile],
        problems: list[Problem],
    ) -> object:
        for key, choices in spec.discriminators.items():
            tag = value.get(key)
            if isinstance(tag, str):
                if tag in choices:
                    return self._check_object(value, choices[tag], path, files, problems)
                problems.append(
                    Problem(
                        f"{path}.{key}",
                        f'field "{path}.{key}": {tag!r} is not a valid {spec.name} '
                        f"({', '.join(sorted(choices))})",
                    )
                )
                return None
        types = tuple(TypeRef(sub) for sub in spec.subtypes)
        return self._check_union(value, types, path, files, problems)


@functools.cache
def _load_cached(path: str) -> ApiSpec:
    with Path(path).open(encoding="utf-8") as handle:
        data = json.load(handle)
    return ApiSpec(data, path)


def load_spec(path: str | os.PathLike[str]) -> ApiSpec:
    """Load and compile a spec file; each path is read once per process.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    return _load_cached(str(Path(path).resolve()))
