"""A small renderer of deploy/k8s's kustomizations, for the offline checks.

No kustomize binary installs from the registries this project uses (PyPI, npm, Debian), so the
tests render the manifests themselves. Only the features deploy/k8s uses are implemented, with
kustomize's semantics for them: resources (files and directories), components, namespace, images,
labels (without selectors), and patches (strategic-merge files, and inline JSON 6902 operations
with a target). Any other key fails loudly instead of being ignored, so a kustomization that grows
a feature grows this renderer (or brings the real tool) with it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KNOWN_KEYS = {"apiVersion", "kind", "resources", "components", "namespace", "images", "labels", "patches"}
# Kinds without a namespace (those deploy/k8s may hold).
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


class UnsupportedKustomization(ValueError):
    pass


def load_yaml_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(directory: Path) -> list[Resource]:
    """The resources ``kustomize build directory`` prints, in order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)} not supported by tests/deploy/kustomize.py")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources += build(path) if path.is_dir() else load_yaml_documents(path)
    for entry in kustomization.get("components", []):
        component = (directory / entry).resolve()
        resources = _apply_component(component, resources)
    for patch in kustomization.get("patches", []):
        resources = _apply_patch(directory, patch, resources)
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    for label in kustomization.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise UnsupportedKustomization("labels with includeSelectors/includeTemplates")
        for res in resources:
            res.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    if "namespace" in kustomization:
        for res in resources:
            if res["kind"] not in CLUSTER_KINDS:
                res["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def _apply_component(directory: Path, resources: list[Resource]) -> list[Resource]:
    component = yaml.safe_load((directory / "kustomization.yaml").read_text())
    if component.get("kind") != "Component":
        raise UnsupportedKustomization(f"{directory} is not a Component")
    unknown = set(component) - {"apiVersion", "kind", "patches", "resources"}
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)}")
    for entry in component.get("resources", []):
        resources = resources + load_yaml_documents(directory / entry)
    for patch in component.get("patches", []):
        resources = _apply_patch(directory, patch, resources)
    return resources


def _matches(res: Resource, target: dict[str, Any]) -> bool:
    group, _, version = res["apiVersion"].rpartition("/")
    checks = {
        "kind": res["kind"],
        "name": res["metadata"]["name"],
        "group": group,
        "version": version,
        "namespace": res["metadata"].get("namespace"),
    }
    unknown = set(target) - set(checks)
    if unknown:
        raise UnsupportedKustomization(f"patch target keys {sorted(unknown)}")
    return all(checks[key] == value for key, value in target.items())


def _apply_patch(directory: Path, patch: dict[str, Any], resources: list[Resource]) -> list[Resource]:
    if "path" in patch and "target" not in patch:
        for doc in load_yaml_documents(directory / patch["path"]):
            target = {"kind": doc["kind"], "name": doc["metadata"]["name"]}
            hits = [r for r in resources if _matches(r, target)]
            if len(hits) != 1:
                raise UnsupportedKustomization(f"{patch['path']}: {len(hits)} resources match {target}")
            merged = strategic_merge(hits[0], doc)
            resources = [merged if r is hits[0] else r for r in resources]
        return resources
    if "patch" in patch and "target" in patch:
        operations = yaml.safe_load(patch["patch"])
        if not isinstance(operations, list):
            raise UnsupportedKustomization("only JSON 6902 inline patches (a list of operations)")
        hits = [r for r in resources if _matches(r, patch["target"])]
        if not hits:
            raise UnsupportedKustomization(f"no resource matches {patch['target']}")
        for res in hits:
            for op in operations:
                json6902(res, op)
        return resources
    raise UnsupportedKustomization(f"patch form {sorted(patch)}")


def strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of named items merge by name; other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out_list = [copy.deepcopy(item) for item in base]
        names = [item["name"] for item in out_list]
        for item in patch:
            if item["name"] in names:
                i = names.index(item["name"])
                out_list[i] = strategic_merge(out_list[i], item)
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def json6902(doc: Resource, op: dict[str, Any]) -> None:
    if op["op"] not in {"add", "replace", "remove"}:
        raise UnsupportedKustomization(f"JSON patch op {op['op']}")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    parent: Any = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if isinstance(parent, list):
        if op["op"] == "add":
            parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
        elif op["op"] == "replace":
            parent[int(last)] = copy.deepcopy(op["value"])
        else:
            del parent[int(last)]
    elif op["op"] == "remove":
        del parent[last]
    else:
        if op["op"] == "replace" and last not in parent:
            raise KeyError(op["path"])
        parent[last] = copy.deepcopy(op["value"])


def pod_specs(res: Resource) -> list[dict[str, Any]]:
    """The pod spec(s) a workload resource runs."""
    if res["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        return [res["spec"]["template"]["spec"]]
    if res["kind"] == "CronJob":
        return [res["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    if res["kind"] == "Pod":
        return [res["spec"]]
    return []


def _set_image(resources: list[Resource], image: dict[str, Any]) -> None:
    for res in resources:
        for spec in pod_specs(res):
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                name, _, tag = container["image"].partition(":")
                if name != image["name"]:
                    continue
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
