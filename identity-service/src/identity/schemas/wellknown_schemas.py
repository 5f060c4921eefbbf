"""Discovery documents: the JWKS and the RFC 8414 metadata that resource servers read."""

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


class AuthorizationServerMetadataOut(BaseModel):
    """RFC 8414 metadata, limited to what is true of this server (README, "Discovery")."""

    issuer: str
    jwks_uri: str
    response_types_supported: list[str]
    grant_types_supported: list[str]
