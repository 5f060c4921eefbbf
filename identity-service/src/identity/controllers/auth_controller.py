"""`/api/v1/auth`: register, login, refresh, logout and sessions."""

from flask import request
from flask_openapi3.models.tag import Tag

from identity import wiring
from identity.schemas.auth_schemas import (
    LoginOut,
    LoginRequest,
    MailRequest,
    PasswordResetConfirm,
    RefreshTokenRequest,
    SessionList,
    SessionOut,
    SessionPath,
    TokenPairOut,
    VerifyEmailRequest,
)
from identity.schemas.mfa_schemas import (
    MfaCodeVerify,
    MfaRecoveryVerify,
    MfaRequiredOut,
    MfaVerifyRequest,
)
from identity.schemas.user_schemas import UserCreate, UserOut
from identity.services.results import MfaRequired
from service_kit.http.auth import current_principal, require_auth
from service_kit.http.openapi import (
    BEARER_SECURITY,
    ApiBlueprint,
    ViewResult,
    empty_response,
    json_response,
    problem_responses,
)

auth_bp = ApiBlueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    abp_tags=[Tag(name="auth", description="Registration, tokens and sessions")],
    abp_responses=problem_responses(400, 413, 422, 503),
)


def _user_agent() -> str | None:
    return request.headers.get("User-Agent")


@auth_bp.post("/register", responses={201: UserOut, **problem_responses(409, 429)})
def register(body: UserCreate) -> ViewResult:
    """Create an account."""
    user = wiring.user_service().register_user(body)
    return json_response(UserOut.model_validate(user), 201)


@auth_bp.post("/login", responses={200: LoginOut, **problem_responses(401, 403, 429)})
def login(body: LoginRequest) -> ViewResult:
    """Exchange email and password for an access token and a refresh token; with two-factor
    login on, for `{mfa_required: true, mfa_token, expires_in}` instead (then `/mfa/verify`)."""
    outcome = wiring.auth_service().authenticate(
        email=body.email, password=body.password, user_agent=_user_agent()
    )
    if isinstance(outcome, MfaRequired):
        return json_response(MfaRequiredOut.model_validate(outcome))
    return json_response(TokenPairOut.model_validate(outcome))


@auth_bp.post(
    "/mfa/verify",
    responses={200: TokenPairOut, **problem_responses(401, 429, codes={401: ("invalid_mfa",)})},
)
def verify_mfa(body: MfaVerifyRequest) -> ViewResult:
    """Finish a two-factor login: the `mfa_token` from login and a code from the app (used
    once) or a recovery code (used once). Five wrong codes void the `mfa_token`."""
    factor = body.root
    pair = wiring.auth_service().complete_mfa_login(
        factor.mfa_token,
        code=factor.code if isinstance(factor, MfaCodeVerify) else None,
        recovery_code=factor.recovery_code if isinstance(factor, MfaRecoveryVerify) else None,
        user_agent=_user_agent(),
    )
    return json_response(TokenPairOut.model_validate(pair))


@auth_bp.post(
    "/verify-email",
    responses={204: empty_response("Email address verified"), **problem_responses(429)},
)
def verify_email(body: VerifyEmailRequest) -> ViewResult:
    """Confirm the account's email address with the token from the verification mail (400
    `invalid_token` when it is unknown, used or expired)."""
    wiring.account_service().verify_email(body.token)
    return "", 204


@auth_bp.post(
    "/verify-email/resend",
    responses={
        202: empty_response("Accepted: a mail goes out if it should"),
        **problem_responses(429),
    },
)
def resend_verification(body: MailRequest) -> ViewResult:
    """Mail a new verification link to the address, if it has an unverified account. The
    answer is 202 whatever the address: it tells nothing about accounts."""
    wiring.account_service().request_verification_mail(body.email)
    return "", 202


@auth_bp.post(
    "/password-reset",
    responses={
        202: empty_response("Accepted: a mail goes out if it should"),
        **problem_responses(429),
    },
)
def request_password_reset(body: MailRequest) -> ViewResult:
    """Mail a password-reset link (30 minutes, single use) to the address, if it has an
    account. 202 whatever the address, after the same work."""
    wiring.account_service().request_password_reset(body.email)
    return "", 202


@auth_bp.post(
    "/password-reset/confirm",
    responses={204: empty_response("Password set; every session ended"), **problem_responses(429)},
)
def confirm_password_reset(body: PasswordResetConfirm) -> ViewResult:
    """Set a new password with the token from the reset mail: every session of the account
    ends and its access tokens are revoked (400 `invalid_token`, 422 `password_policy`)."""
    wiring.account_service().reset_password(body.token, body.new_password)
    return "", 204


@auth_bp.post("/refresh", responses={200: TokenPairOut, **problem_responses(401, 429)})
def refresh(body: RefreshTokenRequest) -> ViewResult:
    """Rotate a refresh token: the old one is used up, a new pair comes back."""
    pair = wiring.auth_service().rotate_refresh_token(body.refresh_token, user_agent=_user_agent())
    return json_response(TokenPairOut.model_validate(pair))


@auth_bp.post("/logout", responses={204: empty_response("Logged out")})
def logout(body: RefreshTokenRequest) -> ViewResult:
    """Revoke the session of a refresh token; unknown tokens are accepted silently."""
    wiring.auth_service().revoke_refresh_token(body.refresh_token)
    return "", 204


@auth_bp.post(
    "/logout-all",
    security=BEARER_SECURITY,
    responses={204: empty_response("Every session revoked"), **problem_responses(401)},
)
@require_auth
def logout_all() -> ViewResult:
    """Revoke every session of the caller."""
    wiring.auth_service().revoke_all_sessions(user_id=current_principal().user_id)
    return "", 204


@auth_bp.get(
    "/sessions", security=BEARER_SECURITY, responses={200: SessionList, **problem_responses(401)}
)
@require_auth
def list_sessions() -> ViewResult:
    """The caller's live sessions; `current` marks the one this token belongs to."""
    principal = current_principal()
    sessions = wiring.auth_service().list_sessions(
        user_id=principal.user_id, current_session_id=principal.session_id
    )
    data = [
        SessionOut(
            id=item.id,
            created_at=item.created_at,
            last_used_at=item.last_used_at,
            user_agent=item.user_agent,
            current=item.is_current,
        )
        for item in sessions
    ]
    return json_response(SessionList(data=data))


@auth_bp.delete(
    "/sessions/<session_id>",
    security=BEARER_SECURITY,
    responses={204: empty_response("Session revoked"), **problem_responses(401, 404)},
)
@require_auth
def delete_session(path: SessionPath) -> ViewResult:
    """Revoke one of the caller's sessions."""
    wiring.auth_service().revoke_session(
        user_id=current_principal().user_id, session_id=path.session_id
    )
    return "", 204
