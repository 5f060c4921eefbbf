"""The committed OpenAPI documents and the typed clients generated from them (`make clients`).

For each service: its document, as the code produces it (the app's `/openapi.json`, built
without a database), is written to `clients/<service>-client/openapi.json`; then the pinned
openapi-python-client (the workspace's dev dependency) generates the package
`clients/<service>-client/<service>_client/` from that file. The test
`clients/tests/test_clients.py` runs the same steps into a temporary directory and fails when
anything committed differs (a changed controller or schema without `make clients`).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CLIENTS = Path(__file__).resolve().parent
CONFIG = CLIENTS / "config.yaml"
SERVICES = ("identity", "items")


def document(service: str) -> dict[str, Any]:
    """`service`'s OpenAPI document, from its app (settings that need no database or network)."""
    if service == "identity":
        from identity import create_app as create_identity
        from identity.config import IdentitySettings

        app = create_identity(IdentitySettings(_env_file=None, database_url="sqlite://"))  # type: ignore[call-arg]
    else:
        from items import create_app as create_items
        from items.config import ItemsSettings

        app = create_items(
            ItemsSettings(  # type: ignore[call-arg]
                _env_file=None,
                database_url="sqlite://",
                jwks_url="http://identity.invalid/.well-known/jwks.json",
                secret_key="a document needs no secret, the settings do: " + "x" * 16,
            )
        )
    return dict(app.api_doc)  # type: ignore[attr-defined]


def write(service: str, root: Path) -> Path:
    """The document and the generated package of `service` under `root` (the project dir)."""
    project = root / f"{service}-client"
    project.mkdir(parents=True, exist_ok=True)
    spec = project / "openapi.json"
    spec.write_text(json.dumps(document(service), indent=2, sort_keys=True) + "\n")
    package = project / f"{service}_client"
    shutil.rmtree(package, ignore_errors=True)
    subprocess.run(  # noqa: S603 - fixed arguments, the workspace's own tool
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(package),
            "--meta",
            "none",
            "--config",
            str(CONFIG),
            "--overwrite",
        ],
        check=True,
        capture_output=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    (package / "py.typed").write_text("")  # the clients are typed (PEP 561)
    return project


def main() -> None:
    for service in SERVICES:
        print(f"wrote {write(service, CLIENTS).relative_to(CLIENTS.parent)}")


if __name__ == "__main__":
    main()
