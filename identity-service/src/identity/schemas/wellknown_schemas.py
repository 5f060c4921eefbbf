"""Discovery documents: the JWKS and the RFC 8414 metadata that resource servers read."""

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from service_kit.schemas import example

_JWK_EXAMPLE: JsonDict = {
    "kty": "EC",
    "kid": "es_bsi_RYQATcMExACQvS9RGJEl6HNURNibIq5H3pCw",
    "alg": "ES256",
    "use": "sig",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}


class Jwk(BaseModel):
    """A public key that signs access tokens (RFC 7517)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": _JWK_EXAMPLE})

    kty: str
    kid: str
    alg: str
    use: str
    crv: str
    x: str
    y: str


class JwksOut(BaseModel):
    """The keys access tokens are signed with: the current one and those still valid."""

    model_config = example({"keys": [_JWK_EXAMPLE]})

    keys: list[Jwk]


class AuthorizationServerMetadataOut(BaseModel):
    """RFC 8414 metadata, limited to what is true of this server (README, "Discovery")."""

    model_config = example(
        {
            "issuer": "http://localhost:8080",
            "jwks_uri": "http://localhost:8080/.well-known/jwks.json",
            "response_types_supported": [],
            "grant_types_supported": [],
        }
    )

    issuer: str
    jwks_uri: str
    response_types_supported: list[str]
    grant_types_supported: list[str]
