"""`/.well-known`: the public keys (JWKS) and discovery metadata for resource servers."""

from flask_openapi3.models.tag import Tag

from identity import wiring
from identity.schemas.wellknown_schemas import AuthorizationServerMetadataOut, Jwk, JwksOut
from service_kit.http.openapi import ApiBlueprint, ViewResult, json_response, problem_responses

wellknown_bp = ApiBlueprint(
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
    body = JwksOut(keys=[Jwk.model_validate(jwk, from_attributes=True) for jwk in jwks])
    max_age = wiring.settings().jwks_max_age_seconds
    return json_response(body, 200, {"Cache-Control": f"public, max-age={max_age}"})


@wellknown_bp.get("/oauth-authorization-server", responses={200: AuthorizationServerMetadataOut})
def authorization_server_metadata() -> ViewResult:
    """RFC 8414 metadata: the issuer and where its keys are.

    Only what is true of this server: login, refresh and logout are this API's own JSON
    endpoints, not RFC 6749 / RFC 7009 form-encoded ones, so no token, authorization or
    revocation endpoint is published, and the grant and response types are explicitly empty
    (RFC 8414 reads an omitted `grant_types_supported` as authorization_code and implicit).
    """
    issuer = wiring.settings().issuer  # exactly the `iss` of the tokens
    body = AuthorizationServerMetadataOut(
        issuer=issuer,
        jwks_uri=f"{issuer.rstrip('/')}/.well-known/jwks.json",
        response_types_supported=[],
        grant_types_supported=[],
    )
    return json_response(body, 200, {"Cache-Control": "public, max-age=3600"})
