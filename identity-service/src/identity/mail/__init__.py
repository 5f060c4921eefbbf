"""Outgoing mail: messages from templates (Jinja2) and the backends that deliver them."""
