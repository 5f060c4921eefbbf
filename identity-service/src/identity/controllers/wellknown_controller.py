"""`/.well-known`: the public keys (JWKS) and discovery metadata for resource servers."""

from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from identity import wiring
from identity.schemas.wellknown_schemas import DiscoveryOut, Jwk, JwksOut
from service_kit.http.openapi import ViewResult, problem_responses

wellknown_bp = APIBlueprint(
    "wellknown",
    __name__,
    url_prefix="/.well-known",
    abp_tags=[Tag(name="discovery", description="Keys and metadata for token verifiers")],
    # Any request's JSON body is parsed up front (service_kit.http.problems), even a GET's.
    abp_responses=problem_responses(400, 413),
)


@wellknown_bp.get("/jwks.json", responses={200: JwksOut, **problem_responses(503)})
def jwks() -> ViewResult:
    """Public keys that verify access tokens (active and retiring keys)."""
    jwks = wiring.key_service().get_public_jwks()
    body = JwksOut(keys=[Jwk.model_validate(jwk) for jwk in jwks])
    max_age = wiring.settings().jwks_max_age_seconds
    return body.model_dump(mode="json"), 200, {"Cache-Control": f"public, max-age={max_age}"}


@wellknown_bp.get("/openid-configuration", responses={200: DiscoveryOut})
def openid_configuration() -> ViewResult:
    """Where the keys and endpoints are, for resource servers and clients."""
    issuer = wiring.settings().issuer  # exactly the `iss` of the tokens
    base = issuer.rstrip("/")
    body = DiscoveryOut(
        issuer=issuer,
        jwks_uri=f"{base}/.well-known/jwks.json",
        token_endpoint=f"{base}/api/v1/auth/login",
        registration_endpoint=f"{base}/api/v1/auth/register",
        revocation_endpoint=f"{base}/api/v1/auth/logout",
        userinfo_endpoint=f"{base}/api/v1/users/me",
        grant_types_supported=["password", "refresh_token"],
        id_token_signing_alg_values_supported=["ES256"],
        token_endpoint_auth_methods_supported=["none"],
    )
    return body.model_dump(mode="json"), 200, {"Cache-Control": "public, max-age=3600"}
