"""Loading the FHIR export's standard codes from ``prompts/fhir_codes.yaml``.

Checked at start-up of an export: an instrument without its panel and total codes, or an item
code for an item the instrument does not have, stops the export with a message naming the
file and the field, instead of a bundle filed under the wrong code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.domain.fhir import Code, CodeTable, InstrumentCodes
from bot.domain.instruments import Instrument
from prompts.questionnaires import load_questionnaire, questionnaire_path

FHIR_CODES = Path(__file__).with_name("fhir_codes.yaml")
_LOINC = re.compile(r"([0-9]{1,7})-([0-9])")


def loinc_check_digit(number: str) -> int:
    """Return the check digit of a LOINC code's number part (the mod 10 scheme LOINC uses:
    Luhn's). Every code in the table is checked with it, so a typo cannot slip through."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def _loinc(code: str, where: str) -> str:
    match = _LOINC.fullmatch(code)
    if match is None or loinc_check_digit(match[1]) != int(match[2]):
        raise FhirCodesError(f"{where}: {code!r} is not a valid LOINC code (check digit)")
    return code


class FhirCodesError(ValueError):
    """The code table is malformed; the message names the file and the field."""


def _code(raw: Any, where: str) -> Code:
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
        raise FhirCodesError(f"{where}: needs a code")
    display = raw.get("display")
    if display is not None and not isinstance(display, str):
        raise FhirCodesError(f"{where}.display: must be text")
    return Code(raw["code"], display)


def _instrument(instrument: Instrument, raw: Any, where: str) -> InstrumentCodes:
    if not isinstance(raw, dict):
        raise FhirCodesError(f"{where}: must be a mapping")
    known = {item.id for item in load_questionnaire(questionnaire_path(instrument.value)).items}
    items = raw.get("items") or {}
    frequency = raw.get("frequency_items") or []
    if not isinstance(items, dict) or not isinstance(frequency, list):
        raise FhirCodesError(f"{where}: items must be a mapping, frequency_items a list")
    for item_id in [*items, *frequency]:
        if item_id not in known:
            raise FhirCodesError(f"{where}: {item_id!r} is not an item of {instrument.value}")
    panel = _code(raw.get("panel"), f"{where}.panel")
    total = _code(raw.get("total"), f"{where}.total")
    _loinc(panel.code, f"{where}.panel")
    _loinc(total.code, f"{where}.total")
    return InstrumentCodes(
        panel=panel,
        total=total,
        items={str(k): _loinc(str(v), f"{where}.items.{k}") for k, v in items.items()},
        frequency_items=frozenset(str(i) for i in frequency),
    )


def load_fhir_codes(path: Path = FHIR_CODES) -> CodeTable:
    """Read and check the code table."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name
    if not isinstance(raw, dict):
        raise FhirCodesError(f"{where}: must be a mapping")
    answers = raw.get("frequency_answers")
    instruments = raw.get("instruments")
    if not isinstance(answers, dict) or not isinstance(instruments, dict):
        raise FhirCodesError(f"{where}: needs frequency_answers and instruments")
    table: dict[Instrument, InstrumentCodes] = {}
    for instrument in Instrument:
        if instrument.value not in instruments:
            raise FhirCodesError(f"{where}: instruments.{instrument.value} is missing")
        table[instrument] = _instrument(
            instrument, instruments[instrument.value], f"{where}: instruments.{instrument.value}"
        )
    return CodeTable(
        loinc_system=str(raw.get("loinc_system", "http://loinc.org")),
        frequency_answers={
            str(k): _code(v, f"{where}: frequency_answers.{k}") for k, v in answers.items()
        },
        instruments=table,
    )
