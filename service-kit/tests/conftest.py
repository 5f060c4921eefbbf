"""service-kit's own suite: the database fixtures every service shares come from the plugin."""

pytest_plugins = ["service_kit_testing.pytest_plugin"]
