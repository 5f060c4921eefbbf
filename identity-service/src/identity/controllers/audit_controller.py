"""`/api/v1/audit-events`: the audit log, newest first (admins)."""

from flask_openapi3.models.tag import Tag

from identity import wiring
from identity.schemas.audit_schemas import AuditEventOut, AuditEventPage, AuditEventQuery
from identity.services.audit_service import AuditListParams
from service_kit.http.auth import current_principal, require_admin
from service_kit.http.openapi import (
    BEARER_SECURITY,
    CURSOR_VALIDATION_CODES,
    ApiBlueprint,
    ViewResult,
    json_response,
    problem_responses,
)

audit_bp = ApiBlueprint(
    "audit",
    __name__,
    url_prefix="/api/v1/audit-events",
    abp_tags=[Tag(name="audit", description="Security events (admins)")],
    abp_security=BEARER_SECURITY,
    abp_responses=problem_responses(400, 401, 413, 422, 503),
)


@audit_bp.get(
    "",
    responses={
        200: AuditEventPage,
        **problem_responses(403, 422, codes=CURSOR_VALIDATION_CODES),
    },
)
@require_admin
def list_audit_events(query: AuditEventQuery) -> ViewResult:
    """Admins: security events newest first, filtered by `type` and by `user` (the subject)."""
    cursors = wiring.audit_cursors()
    page = wiring.audit_service().admin_list_events(
        AuditListParams(type=query.type, subject_id=query.user),
        actor_id=current_principal().user_id,
        limit=query.limit,
        after=cursors.decode(query.cursor) if query.cursor else None,
    )
    return json_response(
        AuditEventPage(
            data=[AuditEventOut.model_validate(event) for event in page.items],
            next_cursor=cursors.encode(page.next_position) if page.next_position else None,
        )
    )
