"""Contains all the data models used in inputs/outputs"""

from .admin_user_update import AdminUserUpdate
from .audit_event_out import AuditEventOut
from .audit_event_out_detail import AuditEventOutDetail
from .audit_event_page import AuditEventPage
from .audit_event_type import AuditEventType
from .authorization_server_metadata_out import AuthorizationServerMetadataOut
from .jwk import Jwk
from .jwks_out import JwksOut
from .login_request import LoginRequest
from .mail_request import MailRequest
from .mfa_code_request import MfaCodeRequest
from .mfa_code_verify import MfaCodeVerify
from .mfa_recovery_verify import MfaRecoveryVerify
from .mfa_required_out import MfaRequiredOut
from .password_change import PasswordChange
from .password_reset_confirm import PasswordResetConfirm
from .problem import Problem
from .recovery_codes_out import RecoveryCodesOut
from .refresh_token_request import RefreshTokenRequest
from .role import Role
from .session_list import SessionList
from .session_out import SessionOut
from .token_pair_out import TokenPairOut
from .totp_code_request import TotpCodeRequest
from .totp_enrolment_out import TotpEnrolmentOut
from .user_create import UserCreate
from .user_out import UserOut
from .user_page import UserPage
from .user_update import UserUpdate
from .validation_problem import ValidationProblem
from .validation_problem_errors_item import ValidationProblemErrorsItem
from .verify_email_request import VerifyEmailRequest

__all__ = (
    "AdminUserUpdate",
    "AuditEventOut",
    "AuditEventOutDetail",
    "AuditEventPage",
    "AuditEventType",
    "AuthorizationServerMetadataOut",
    "Jwk",
    "JwksOut",
    "LoginRequest",
    "MailRequest",
    "MfaCodeRequest",
    "MfaCodeVerify",
    "MfaRecoveryVerify",
    "MfaRequiredOut",
    "PasswordChange",
    "PasswordResetConfirm",
    "Problem",
    "RecoveryCodesOut",
    "RefreshTokenRequest",
    "Role",
    "SessionList",
    "SessionOut",
    "TokenPairOut",
    "TotpCodeRequest",
    "TotpEnrolmentOut",
    "UserCreate",
    "UserOut",
    "UserPage",
    "UserUpdate",
    "ValidationProblem",
    "ValidationProblemErrorsItem",
    "VerifyEmailRequest",
)
