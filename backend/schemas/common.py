"""Schemas shared by every resource: errors, pagination, jobs, money."""

from __future__ import annotations

from datetime import UTC
from typing import ClassVar

from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as FieldError

from ..models import MAX_AMOUNT

_page_schemas: dict[str, type[Schema]] = {}

# Ids, as in the paths: most tables count with 32-bit integers; tasks, assignments and webhook
# deliveries with 64-bit ones.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
ID = validate.Range(min=0, max=MAX_ID)
BIG_ID = validate.Range(min=0, max=MAX_BIG_ID)
# ISO 4217 codes. The length check also refuses "USD\n", which Python's "$" would let through.
CURRENCY = [validate.Length(equal=3), validate.Regexp("^[A-Z]{3}$", error="must be an ISO 4217 code such as USD")]


class ResponseSchema(Schema):
    """A response body. Its fields are always present, so the document marks them required (and a
    generated client types them so); ``optional`` names those that are sometimes left out."""

    optional: ClassVar[tuple[str, ...]] = ()

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        # Bound fields are this instance's copies: the classes' declared fields stay as they are.
        if field_name not in self.optional:
            field_obj.required = True


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time with an offset, loaded in UTC. A time whose UTC value leaves the calendar
    (9999-12-31T23:59:59-14:00) is a field error, not an OverflowError when it is stored."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise FieldError("out of range once converted to UTC") from None


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The ``{"items": [...], "next_cursor"}`` envelope of a list endpoint."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        })
    return _page_schemas[name]


class MoneySchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT),
                            metadata={"description": f"Integer minor units (cents for USD), at most {MAX_AMOUNT}."})
    currency = fields.String(required=True, validate=CURRENCY,
                             metadata={"description": "ISO-4217 code", "example": "USD"})


class JobSchema(ResponseSchema):
    id = fields.String(required=True)
    kind = fields.String()
    status = fields.String(validate=validate.OneOf(["queued", "started", "finished", "failed"]))
    progress = fields.Float(metadata={"description": "0..1"})
    result = fields.Dict(allow_none=True)
    error = fields.Dict(allow_none=True)
    project_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class JobArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(["queued", "started", "finished", "failed"]))
