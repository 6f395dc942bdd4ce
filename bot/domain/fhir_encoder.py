"""The FHIR export's JSON (docs/fhir.md): the bundle around the entries, and each check-in's
entries written through templates.

A large cohort has hundreds of thousands of resources, and encoding each dict took most of
the export's time (bench/fhir_export.py), so :class:`Encoder` builds each kind of resource
once (``bot/domain/fhir.py``, the one place the structure is written) with placeholders in
place of the values, encodes it, and then fills the values into that text.
tests/unit/test_fhir.py checks that both ways give the same JSON for any check-in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.fhir import (
    ExportCheckin,
    ExportPatient,
    FhirBuilder,
    Json,
    Part,
    entry,
    utc_instant,
)
from bot.domain.instruments import SPECS, Instrument
from bot.domain.questionnaire import Item

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def bundle_head(timestamp: datetime) -> str:
    """Return the Bundle's JSON up to its first entry (entries follow, comma-separated)."""
    envelope = {"resourceType": "Bundle", "type": "collection", "timestamp": ""}
    envelope["timestamp"] = utc_instant(timestamp)
    return _JSON.encode(envelope)[:-1] + ',"entry":['


BUNDLE_TAIL = "]}"


_MARK = "\u00a7"
"""Placeholders are ``§name§`` strings in a dict; a label or text with § never reaches a
template (templates are made from questionnaires and codes, never from patients' data)."""


def _slot(name: str) -> str:
    return f"{_MARK}{name}{_MARK}"


class _Template:
    """A resource's JSON with holes: made by encoding a dict whose values are placeholders.

    ``raw`` placeholders stand for a whole JSON value (a number, a list) and are filled with
    JSON; ``text`` placeholders sit inside JSON strings (an id, a reference, a time) and are
    filled with text that needs no escaping (UUIDs and ISO times only).
    """

    def __init__(self, resource: Json, *, raw: Sequence[str], text: Sequence[str]) -> None:
        encoded = _JSON.encode(entry(resource)).replace("{", "{{").replace("}", "}}")
        for name in raw:
            encoded = self._put(encoded, f'"{_slot(name)}"', name)
        for name in text:
            encoded = self._put(encoded, _slot(name), name)
        if _MARK in encoded:
            raise ValueError(f"a placeholder was left in the template: {encoded}")
        self._text = encoded

    @staticmethod
    def _put(encoded: str, placeholder: str, name: str) -> str:
        if placeholder not in encoded:
            raise ValueError(f"placeholder {name} is not in the template")
        return encoded.replace(placeholder, "{" + name + "}")

    def fill(self, **values: str) -> str:
        """Return the entry's JSON with the values put in."""
        return self._text.format(**values)


@dataclass(slots=True)
class Encoded:
    """One bundle entry as JSON, with what it is (for counting and checking)."""

    resource_type: str
    kind: str
    """The template it came from: entries of one kind share their shape."""
    json: str


_TEXT = ("rid", "subject", "authored")
_OBSERVATION_TEXT = (*_TEXT, "response")


class Encoder:
    """Writes a builder's resources as JSON through templates (see the module docstring)."""

    def __init__(self, builder: FhirBuilder) -> None:
        self._b = builder
        self._templates: dict[str, _Template] = {}
        self._fragments: dict[tuple[str, str, str, str], str] = {}
        self._value_keys: dict[str, str] = {}

    def _fragment(self, part: Part, item: Item, stored: str, which: str) -> str:
        key = (part.questionnaire.id, which, item.id, stored)
        text = self._fragments.get(key)
        if text is None:
            if which == "item":
                value: object = self._b.response_item(part, item, stored)
            else:
                value = self._b.item_value(part, item, stored)[1]
            text = self._fragments[key] = _JSON.encode(value)
        return text

    def patient(self, patient: ExportPatient) -> Encoded:
        """Return a Patient entry (few, so encoded directly)."""
        resource = self._b.patient_resource(patient)
        return Encoded("Patient", "patient", _JSON.encode(entry(resource)))

    def _response_template(self, kind: str, part: Part) -> _Template:
        template = self._templates.get(kind)
        if template is None:
            resource = self._b.response_resource(
                part,
                rid=_slot("rid"),
                subject=_slot("subject"),
                authored=_slot("authored"),
                items=_slot("items"),
            )
            template = self._templates[kind] = _Template(resource, raw=("items",), text=_TEXT)
        return template

    def _observation_template(
        self,
        kind: str,
        code: dict[str, str],
        value_key: str,
        band: tuple[Instrument, int] | None = None,
    ) -> _Template:
        template = self._templates.get(kind)
        if template is None:
            resource = self._b.observation_resource(
                rid=_slot("rid"),
                code=code,
                subject=_slot("subject"),
                authored=_slot("authored"),
                response=_slot("response"),
                value=(value_key, _slot("value")),
            )
            if band is not None:
                resource = self._b.with_band(resource, *band)
            template = _Template(resource, raw=("value",), text=_OBSERVATION_TEXT)
            self._templates[kind] = template
        return template

    def checkin(self, checkin: ExportCheckin, subject: str) -> Iterator[Encoded]:
        """Yield a check-in's entries: the same JSON as ``FhirBuilder.checkin_resources``."""
        b = self._b
        authored = utc_instant(checkin.authored)
        for part in b.parts(checkin):
            name = part.instrument.value if part.instrument else "daily"
            response_id = b.ids(f"{name}-response", checkin.checkin_id)
            answered = list(b.answered(part, checkin.answers))
            kind = f"{name}-response"
            items = ",".join(self._fragment(part, item, value, "item") for item, value in answered)
            yield Encoded(
                "QuestionnaireResponse",
                kind,
                self._response_template(kind, part).fill(
                    rid=response_id, subject=subject, authored=authored, items=f"[{items}]"
                ),
            )
            if part.instrument is not None:
                total = b.total(part.instrument, checkin.answers)
                band = SPECS[part.instrument].band(total)
                kind = f"{name}-total-{band.value if band else 'none'}"
                template = self._observation_template(
                    kind, b.total_code(part.instrument), "valueInteger", (part.instrument, total)
                )
                yield Encoded(
                    "Observation",
                    kind,
                    template.fill(
                        rid=b.ids(f"{name}-total", checkin.checkin_id),
                        subject=subject,
                        authored=authored,
                        response=response_id,
                        value=str(total),
                    ),
                )
                continue
            for item, stored in answered:
                value_key = self._value_keys.get(item.id)
                if value_key is None:
                    value_key = self._value_keys[item.id] = b.value_key(item)
                kind = f"daily-{item.id}-{value_key}"
                template = self._observation_template(kind, b.item_code(item), value_key)
                yield Encoded(
                    "Observation",
                    kind,
                    template.fill(
                        rid=b.ids(f"daily-{item.id}", checkin.checkin_id),
                        subject=subject,
                        authored=authored,
                        response=response_id,
                        value=self._fragment(part, item, stored, "value"),
                    ),
                )
