"""Question kinds and task forms.

Each kind is one module holding a ``QuestionKind`` (base.py); ``KINDS`` is the registry. A project
asks one question (created the old way, with ``task_type``) or a form of several (``questions``);
``form_of(project)`` gives either as a ``Form``, which checks task data, answers and gold answers
and scores them, question by question. Adding a kind means adding its module here, its widget in
``web/js/questions/`` and their tests.
"""

from __future__ import annotations

from .base import QuestionKind
from .bounding_boxes import KIND as BOUNDING_BOXES
from .form import (
    DISPLAY_AS,
    FORM,
    MAX_QUESTIONS,
    Form,
    Question,
    check_display,
    check_questions,
    form_of,
    legacy_config,
    methods_of,
)
from .free_text import KIND as FREE_TEXT
from .multi_choice import KIND as MULTI_CHOICE
from .pairwise import KIND as PAIRWISE
from .ranking import KIND as RANKING
from .rating import KIND as RATING
from .registry import KINDS, LEGACY_KINDS
from .single_choice import KIND as SINGLE_CHOICE
from .text_edit import KIND as TEXT_EDIT
from .text_spans import KIND as TEXT_SPANS

__all__ = [
    "BOUNDING_BOXES", "DISPLAY_AS", "FORM", "FREE_TEXT", "KINDS", "LEGACY_KINDS", "MAX_QUESTIONS", "MULTI_CHOICE",
    "PAIRWISE", "RANKING", "RATING", "SINGLE_CHOICE", "TEXT_EDIT", "TEXT_SPANS", "Form", "Question",
    "QuestionKind", "check_display", "check_questions", "form_of", "legacy_config", "methods_of",
]
