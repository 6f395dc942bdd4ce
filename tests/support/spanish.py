"""The published Spanish PHQ-9 and GAD-7 as the tests expect them, and a check for English.

The instrument texts are typed here a second time, on purpose: a test that read them from
``prompts/questionnaires/*.yaml`` could not notice the YAML drifting from the published form.
Source of both ("Spanish for the USA", phqscreeners.com): docs/clinical.md, "Spanish
instruments".
"""

from __future__ import annotations

import re

STEM_ES = (
    "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los "
    "siguientes problemas?"
)
"""The PHQ-9's and the GAD-7's stem (the same sentence on both Spanish forms)."""
FREQUENCY_ES = ("Ningún día", "Varios días", "Más de la mitad de los días", "Casi todos los días")
PHQ9_ES = (
    "Poco interés o placer en hacer cosas",
    "Se ha sentido decaído(a), deprimido(a) o sin esperanzas",
    "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
    "Se ha sentido cansado(a) o con poca energía",
    "Sin apetito o ha comido en exceso",
    "Se ha sentido mal con usted mismo(a) \u2013 o que es un fracaso o que ha quedado mal con "
    "usted mismo(a) o con su familia",
    "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el "
    "periódico o ver la televisión",
    "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? o lo "
    "contrario \u2013 muy inquieto(a) o agitado(a) que ha estado moviéndose mucho más de lo "
    "normal",
    "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera",
)
PHQ9_DIFFICULTY_ES = (
    "Si marcó cualquiera de los problemas, ¿qué tanta dificultad le han dado estos problemas "
    "para hacer su trabajo, encargarse de las tareas del hogar, o llevarse bien con otras "
    "personas?"
)
PHQ9_DIFFICULTY_OPTIONS_ES = (
    "No ha sido difícil",
    "Un poco difícil",
    "Muy difícil",
    "Extremadamente difícil",
)
GAD7_ES = (
    "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta",
    "No ha sido capaz de parar o controlar su preocupación",
    "Se ha preocupado demasiado por motivos diferentes",
    "Ha tenido dificultad para relajarse",
    "Se ha sentido tan inquieto(a) que no ha podido quedarse quieto(a)",
    "Se ha molestado o irritado fácilmente",
    "Ha tenido miedo de que algo terrible fuera a pasar",
)

# Words of English that no Spanish sentence of ours uses (short, common, unambiguous: "he",
# "me", "no", "a" and "solo" are Spanish words too, and are not listed).
_ENGLISH = """the you your and with have has been was were would will this that these those today
    tomorrow thank thanks please check checkin done skip skipped day days week every how
    what when where which why who not all any some more than half nearly several little
    interest pleasure feeling trouble sleep mood anxiety energy dose side effects none
    other something yes team care message sent answer answers question questions settings
    time zone language mild moderate severe worse better dead hurting yourself
    over last following problems bothered often"""
ENGLISH_WORDS = frozenset(_ENGLISH.split())
_ALLOWED = re.compile(r"/[a-z_]+|\b(?:PHQ-9|GAD-7|PCL-5|IMMEDIATE|URGENT|ROUTINE)\b")
_WORD = re.compile(r"[A-Za-zÁÉÍÓÚÜÑáéíóúüñ]+")


def english_words(text: str) -> list[str]:
    """Return the English words in a text meant to be Spanish (commands and instrument
    names, which stay as they are, left out)."""
    return [w for w in _WORD.findall(_ALLOWED.sub(" ", text)) if w.lower() in ENGLISH_WORDS]


# The familiar register ("tú"): its pronouns, possessives and verb forms that the formal
# register ("usted") never uses. Words only; an infinitive with "te" attached is caught too.
_TU = """tú tu tus te ti contigo estás puedes quieres tienes necesitas has eres sientes
    sabes diste usaste abriste esperabas recibirás hazlo ábrelo escríbela escríbelo
    guárdalos entrégala pídeles díselo cuéntanos dinos llámanos avísanos cuídate
    comunícate tómate siéntete"""
TU_WORDS = frozenset(_TU.split())
_INFINITIVE_TE = re.compile(r"\b\w+(?:ar|er|ir)te\b", re.IGNORECASE)
_NOT_A_CLITIC = frozenset(
    {
        "parte",
        "aparte",
        "arte",
        "baluarte",
        "estandarte",
        "contraparte",
        "muerte",
        "suerte",
        "fuerte",
        "inerte",
    }
)


def familiar_forms(text: str) -> list[str]:
    """Return the words of a Spanish text in the familiar register (empty: formal only)."""
    words = [w for w in _WORD.findall(text) if w.lower() in TU_WORDS]
    clitics = [w for w in _INFINITIVE_TE.findall(text) if w.lower() not in _NOT_A_CLITIC]
    return words + clitics
