"""Flask-facing infrastructure. The only part of service_kit that imports flask."""
