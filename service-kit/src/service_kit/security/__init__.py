"""Access-token verification shared by every resource server. Signing lives in identity only."""
