"""Discovery documents: the JWKS and the OpenID-style metadata resource servers read."""

from pydantic import BaseModel, ConfigDict


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    alg: str
    use: str
    crv: str
    x: str
    y: str


class JwksOut(BaseModel):
    keys: list[Jwk]


class DiscoveryOut(BaseModel):
    issuer: str
    jwks_uri: str
    token_endpoint: str
    registration_endpoint: str
    revocation_endpoint: str
    userinfo_endpoint: str
    grant_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
