"""An offline subset of `kustomize build`, for machines without a kustomize binary.

The tests render the overlays with `kustomize build` or `kubectl kustomize` when either is on
PATH, and check that this module gives the same documents (test_kustomize_lite_matches_kustomize).
Without a binary, this module renders them, so the manifests are validated everywhere.

Supported, in kustomize's order (`resources`, then `patches`, `namespace`, `images`):

- `resources`: YAML files (several documents each) and directories holding a kustomization.yaml;
- `patches`: strategic-merge patches given by `path` or inline `patch`, each patch document
  targeting the resource with its `kind` and `metadata.name` (no `target`, no JSON 6902). Maps
  merge recursively, `null` deletes a key, and a list replaces the list it patches. Lists that a
  strategic merge would merge by key (containers, env, volumes, ...) are refused, as are `$patch`
  directives, so this module never silently disagrees with kustomize;
- `namespace`: set on every namespaced resource; a Namespace resource is renamed to it;
- `images`: `name` with `newName`, `newTag` and/or `digest`, applied to every container and init
  container image.

Any other kustomization field raises UnsupportedKustomizationError.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Document = dict[str, Any]

SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "namespace", "resources", "patches", "images"})
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
    }
)
# Lists that a strategic merge patch merges element by element (by a merge key) instead of
# replacing: patching them needs real kustomize, so the subset refuses them.
KEYED_LIST_FIELDS = frozenset(
    {
        "containers",
        "initContainers",
        "ephemeralContainers",
        "env",
        "envFrom",
        "volumes",
        "volumeMounts",
        "volumeDevices",
        "ports",
        "imagePullSecrets",
        "hostAliases",
        "topologySpreadConstraints",
        "conditions",
    }
)


class UnsupportedKustomizationError(ValueError):
    """The kustomization uses something outside the subset this module implements."""


def load_documents(path: Path) -> list[Document]:
    """Every non-empty YAML document of a file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def build(directory: Path) -> list[Document]:
    """Render the kustomization in `directory` (see the module docstring for the subset)."""
    kustomization = _read_kustomization(directory)
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise UnsupportedKustomizationError(
            f"{directory}: fields outside the supported subset: {sorted(unsupported)}"
        )
    documents: list[Document] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            documents.extend(build(path))
        elif path.is_file():
            documents.extend(load_documents(path))
        else:
            raise UnsupportedKustomizationError(f"{directory}: resource {entry!r} not found")
    for entry in kustomization.get("patches", []):
        for patch in _patch_documents(directory, entry):
            _apply_patch(documents, patch, origin=directory)
    if namespace := kustomization.get("namespace"):
        for document in documents:
            _set_namespace(document, namespace)
    for image in kustomization.get("images", []):
        for document in documents:
            for container in _containers(document):
                container["image"] = transform_image(container["image"], image)
    return documents


def strategic_merge(base: Any, patch: Any, *, field: str = "") -> Any:
    """Merge `patch` into `base` (the subset described in the module docstring)."""
    if isinstance(patch, dict):
        if "$patch" in patch or any(key.startswith("$") for key in patch):
            raise UnsupportedKustomizationError(f"{field or 'patch'}: $-directives unsupported")
        if not isinstance(base, dict):
            return copy.deepcopy(patch)
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, field=key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and field in KEYED_LIST_FIELDS:
        raise UnsupportedKustomizationError(
            f"patching the list {field!r} merges by key in kustomize; not in the subset"
        )
    return copy.deepcopy(patch)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`registry:5000/name:tag@sha256:...` -> (`registry:5000/name`, `tag`, `sha256:...`)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def transform_image(image: str, rule: dict[str, str]) -> str:
    """Apply one kustomize `images` entry to an image reference (unchanged if it does not match)."""
    unknown = set(rule) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise UnsupportedKustomizationError(f"images: unsupported fields {sorted(unknown)}")
    name, tag, digest = split_image(image)
    if name != rule["name"]:
        return image
    name = rule.get("newName", name)
    if "digest" in rule:
        return f"{name}@{rule['digest']}"
    if "newTag" in rule:
        tag, digest = str(rule["newTag"]), None
    reference = name if tag is None else f"{name}:{tag}"
    return reference if digest is None else f"{reference}@{digest}"


def _read_kustomization(directory: Path) -> dict[str, Any]:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = directory / name
        if path.is_file():
            with path.open(encoding="utf-8") as stream:
                loaded = yaml.safe_load(stream) or {}
            if not isinstance(loaded, dict):
                raise UnsupportedKustomizationError(f"{path}: not a mapping")
            return loaded
    raise UnsupportedKustomizationError(f"{directory}: no kustomization.yaml")


def _patch_documents(directory: Path, entry: dict[str, Any]) -> list[Document]:
    unsupported = set(entry) - {"path", "patch"}
    if unsupported or len(entry) != 1:
        raise UnsupportedKustomizationError(
            f"{directory}: a patch needs exactly one of `path`/`patch` (got {sorted(entry)})"
        )
    if "path" in entry:
        return load_documents(directory / entry["path"])
    return [doc for doc in yaml.safe_load_all(entry["patch"]) if doc]


def _api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _apply_patch(documents: list[Document], patch: Document, *, origin: Path) -> None:
    if isinstance(patch, list) or "kind" not in patch or "name" not in patch.get("metadata", {}):
        raise UnsupportedKustomizationError(f"{origin}: only strategic-merge patches are supported")
    matches = [
        index
        for index, doc in enumerate(documents)
        if doc["kind"] == patch["kind"]
        and doc["metadata"]["name"] == patch["metadata"]["name"]
        and _api_group(doc["apiVersion"]) == _api_group(patch.get("apiVersion", ""))
        and patch["metadata"].get("namespace") in (None, doc["metadata"].get("namespace"))
    ]
    if len(matches) != 1:
        raise UnsupportedKustomizationError(
            f"{origin}: patch {patch['kind']}/{patch['metadata']['name']} "
            f"matches {len(matches)} resources"
        )
    index = matches[0]
    documents[index] = strategic_merge(documents[index], patch)


def _set_namespace(document: Document, namespace: str) -> None:
    if document["kind"] == "Namespace":
        document["metadata"]["name"] = namespace
    elif document["kind"] not in CLUSTER_SCOPED_KINDS:
        document["metadata"]["namespace"] = namespace


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container and init container anywhere in a document (pod templates included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict) and "image" in item)
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)
