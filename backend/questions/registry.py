"""The registry of question kinds, by name."""

from __future__ import annotations

from .base import QuestionKind
from .bounding_boxes import KIND as BOUNDING_BOXES
from .free_text import KIND as FREE_TEXT
from .multi_choice import KIND as MULTI_CHOICE
from .pairwise import KIND as PAIRWISE
from .ranking import KIND as RANKING
from .rating import KIND as RATING
from .single_choice import KIND as SINGLE_CHOICE
from .text_edit import KIND as TEXT_EDIT
from .text_spans import KIND as TEXT_SPANS

KINDS: dict[str, QuestionKind] = {kind.name: kind for kind in (
    SINGLE_CHOICE, MULTI_CHOICE, RATING, BOUNDING_BOXES, TEXT_SPANS, FREE_TEXT, PAIRWISE, RANKING, TEXT_EDIT)}
# Kinds a project created the old way (one question, ``task_type``) may have.
LEGACY_KINDS = ("single_choice", "multi_choice", "rating", "bounding_boxes", "text_spans", "free_text")
