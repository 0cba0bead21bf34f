"""SQLAlchemy models, one module per aggregate. Import from here."""

from .accounts import ROLE_SCOPES, ROLES, SCOPES, ApiToken, Organization, User, UserSession, Worker
from .assignments import ASSIGNMENT_STATUSES, COUNTED_SQL, Assignment, Event, counted
from .base import Base, utcnow
from .jobs import JobRecord
from .payments import (
    LEDGER_KINDS,
    MAX_AMOUNT,
    PAYOUT_STATUSES,
    REVIEW_STATUSES,
    FairPayTopUp,
    IdempotencyKey,
    LedgerEntry,
    Payout,
)
from .projects import BATCH_STATUSES, PAYMENT_FIELDS, PROJECT_STATUSES, TASK_TYPES, Batch, Dataset, Project, Task
from .quality import AgreementReport, AuditRecord, WorkerGroupMember, WorkerQuality
from .results import ConsensusModel, ConsensusResult, ConsensusRun, Export
from .webhooks import DELIVERY_STATUSES, WEBHOOK_EVENTS, Webhook, WebhookDelivery

__all__ = [
    "DELIVERY_STATUSES",
    "WEBHOOK_EVENTS",
    "Webhook",
    "WebhookDelivery",
    "LEDGER_KINDS",
    "PAYOUT_STATUSES",
    "REVIEW_STATUSES",
    "FairPayTopUp",
    "IdempotencyKey",
    "LedgerEntry",
    "Payout",
    "ConsensusModel",
    "ConsensusResult",
    "ConsensusRun",
    "Export",
    "AgreementReport",
    "AuditRecord",
    "WorkerGroupMember",
    "WorkerQuality",
    "ASSIGNMENT_STATUSES",
    "COUNTED_SQL",
    "Assignment",
    "Event",
    "ROLES",
    "ROLE_SCOPES",
    "SCOPES",
    "BATCH_STATUSES",
    "MAX_AMOUNT",
    "PAYMENT_FIELDS",
    "PROJECT_STATUSES",
    "TASK_TYPES",
    "ApiToken",
    "UserSession",
    "Base",
    "Batch",
    "Dataset",
    "JobRecord",
    "Organization",
    "Project",
    "Task",
    "User",
    "Worker",
    "counted",
    "utcnow",
]
