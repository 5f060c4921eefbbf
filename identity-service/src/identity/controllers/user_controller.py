"""`/api/v1/users`: the caller's own account, and account management for admins."""

from flask import Response
from flask_openapi3.models.tag import Tag

from identity import wiring
from identity.schemas.mfa_schemas import (
    MfaCodeRequest,
    RecoveryCodesOut,
    TotpCodeRequest,
    TotpEnrolmentOut,
)
from identity.schemas.user_schemas import (
    AdminUserUpdate,
    PasswordChange,
    UserListQuery,
    UserOut,
    UserPage,
    UserPath,
    UserUpdate,
)
from service_kit.http.auth import current_principal, require_admin, require_auth
from service_kit.http.openapi import (
    BEARER_SECURITY,
    CURSOR_VALIDATION_CODES,
    ApiBlueprint,
    ViewResult,
    empty_response,
    json_response,
    problem_responses,
)

users_bp = ApiBlueprint(
    "users",
    __name__,
    url_prefix="/api/v1/users",
    abp_tags=[Tag(name="users", description="Accounts")],
    abp_security=BEARER_SECURITY,
    abp_responses=problem_responses(400, 401, 413, 422, 503),
)


ADMIN_CODES = {
    403: ("forbidden",),  # the token's role, or the caller's account now, is not admin
    404: ("user_not_found",),
}


def _user(user: object) -> Response:
    return json_response(UserOut.model_validate(user))


@users_bp.get("/me", responses={200: UserOut})
@require_auth
def get_me() -> ViewResult:
    """The caller's account."""
    return _user(wiring.user_service().get_current_user(current_principal().user_id))


@users_bp.patch("/me", responses={200: UserOut})
@require_auth
def update_me(body: UserUpdate) -> ViewResult:
    """Change the caller's profile."""
    return _user(wiring.user_service().update_profile(current_principal().user_id, body))


@users_bp.post(
    "/me/password",
    responses={204: empty_response("Password changed"), **problem_responses(429)},
)
@require_auth
def change_password(body: PasswordChange) -> ViewResult:
    """Change the password; every other session of the caller is revoked."""
    principal = current_principal()
    wiring.user_service().change_password(
        principal.user_id, body, current_session_id=principal.session_id
    )
    return "", 204


@users_bp.delete(
    "/me",
    responses={
        204: empty_response("Account deleted"),
        **problem_responses(401, codes={401: ("invalid_token", "reauthentication_required")}),
    },
)
@require_auth
def delete_me() -> ViewResult:
    """Delete the caller's account (soft delete) and revoke every session.

    Needs a recent login: a token whose login (`auth_time`) is older than
    `IDENTITY_REAUTH_MAX_AGE_SECONDS` gets 401 `reauthentication_required` with an RFC 9470
    challenge; log in again (refreshing keeps the old login time) and retry.
    """
    principal = current_principal()
    wiring.user_service().delete_own_account(principal.user_id, auth_time=principal.auth_time)
    return "", 204


@users_bp.get(
    "",
    responses={
        200: UserPage,
        **problem_responses(403, 422, codes={**ADMIN_CODES, **CURSOR_VALIDATION_CODES}),
    },
)
@require_admin
def list_users(query: UserListQuery) -> ViewResult:
    """Admins: users oldest first, filtered by `q` (substring of email or name)."""
    cursors = wiring.user_cursors()
    after = cursors.decode(query.cursor) if query.cursor else None
    page = wiring.user_service().admin_list_users(
        actor_id=current_principal().user_id, limit=query.limit, after=after, search=query.q
    )
    return json_response(
        UserPage(
            data=[UserOut.model_validate(user) for user in page.items],
            next_cursor=cursors.encode(page.next_position) if page.next_position else None,
        )
    )


@users_bp.get(
    "/<user_id>", responses={200: UserOut, **problem_responses(403, 404, codes=ADMIN_CODES)}
)
@require_admin
def get_user(path: UserPath) -> ViewResult:
    """Admins: one user."""
    return _user(
        wiring.user_service().admin_get_user(path.user_id, actor_id=current_principal().user_id)
    )


@users_bp.patch(
    "/<user_id>", responses={200: UserOut, **problem_responses(403, 404, codes=ADMIN_CODES)}
)
@require_admin
def update_user(path: UserPath, body: AdminUserUpdate) -> ViewResult:
    """Admins: change role, activity or name; deactivating revokes every session."""
    return _user(
        wiring.user_service().admin_update_user(
            path.user_id, body, actor_id=current_principal().user_id
        )
    )


@users_bp.delete(
    "/<user_id>",
    responses={
        204: empty_response("User deleted"),
        **problem_responses(403, 404, codes=ADMIN_CODES),
    },
)
@require_admin
def delete_user(path: UserPath) -> ViewResult:
    """Admins: delete a user (soft delete) and revoke every session."""
    wiring.user_service().admin_delete_user(path.user_id, actor_id=current_principal().user_id)
    return "", 204


@users_bp.post(
    "/me/mfa/totp",
    responses={
        201: TotpEnrolmentOut,
        **problem_responses(409, codes={409: ("mfa_already_enabled",)}),
    },
)
@require_auth
def start_totp() -> ViewResult:
    """Start two-factor login: a new secret for the authenticator app (pending until
    confirmed with a code; a new call replaces a pending secret)."""
    enrolment = wiring.mfa_service().start_enrolment(current_principal().user_id)
    return json_response(TotpEnrolmentOut.model_validate(enrolment), 201)


@users_bp.post(
    "/me/mfa/totp/confirm",
    responses={
        200: RecoveryCodesOut,
        **problem_responses(409, 429, codes={409: ("mfa_already_enabled",)}),
    },
)
@require_auth
def confirm_totp(body: TotpCodeRequest) -> ViewResult:
    """Turn two-factor login on with a code from the app (400 `invalid_code` when wrong); the
    answer holds ten single-use recovery codes, shown only now."""
    codes = wiring.mfa_service().confirm_enrolment(current_principal().user_id, body.code)
    return json_response(RecoveryCodesOut(recovery_codes=codes))


@users_bp.post(
    "/me/mfa/totp/disable",
    responses={
        204: empty_response("Two-factor login off"),
        **problem_responses(
            409,
            429,
            codes={401: ("invalid_token", "reauthentication_required"), 409: ("mfa_not_enabled",)},
        ),
    },
)
@require_auth
def disable_totp(body: MfaCodeRequest) -> ViewResult:
    """Turn two-factor login off with a code (from the app, or a recovery code); needs a recent
    login, like deleting the account."""
    principal = current_principal()
    wiring.mfa_service().disable(principal.user_id, body.code, auth_time=principal.auth_time)
    return "", 204


@users_bp.delete(
    "/<user_id>/mfa",
    responses={
        204: empty_response("Two-factor login off"),
        **problem_responses(403, 404, codes=ADMIN_CODES),
    },
)
@require_admin
def reset_mfa(path: UserPath) -> ViewResult:
    """Admins: turn a user's two-factor login off (a lost phone and lost recovery codes)."""
    wiring.mfa_service().reset(actor_id=current_principal().user_id, user_id=path.user_id)
    return "", 204
