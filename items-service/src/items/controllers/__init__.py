"""HTTP controllers: parse (flask-openapi3 + Pydantic), call one service, serialise."""
