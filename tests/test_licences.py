"""The product is MIT: no runtime dependency, direct or indirect, may be GPL, AGPL or LGPL.

Walks the installed ``fabricate`` distribution's requirements recursively, as installed
(importlib.metadata): fabricate's own extras (the neural model, the tests) are left out;
an extra a requirement names (``celery[redis]``) is followed. Each package's licence is read
from its ``License``, ``License-Expression`` and ``License ::`` classifiers.
"""
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT

#: Copyleft licences the MIT product cannot ship with (whole words: "GPL" in "LGPL", "AGPL" too).
COPYLEFT = re.compile(r"\b(A|L)?GPL|GNU (Lesser |Library |Affero )?General Public", re.I)


def installed_fabricate() -> metadata.Distribution:
    """The installed distribution (a stale ``fabricate.egg-info`` left in the source tree by an old
    editable install would shadow it when the tests run from the repository's root)."""
    found = list(metadata.distributions(name="fabricate"))
    if not found:
        pytest.skip("fabricate is not installed (pip install -e .)")
    installed = [d for d in found if Path(str(d.locate_file(""))).resolve() != ROOT]
    return (installed or found)[0]


def licence_text(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    parts = [meta.get("License") or "", meta.get("License-Expression") or ""]
    parts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    # Some packages put the whole licence text in License: its first line names it.
    return " | ".join(p.strip().splitlines()[0] if p.strip() else "" for p in parts if p.strip())


def runtime_closure(root: metadata.Distribution) -> dict:
    """name -> (distribution, licence text) of every runtime requirement, recursively."""
    seen, missing = {}, []
    pending = [(root, set())]
    while pending:
        dist, extras = pending.pop()
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None:
                environments = [{"extra": e} for e in extras] or [{"extra": ""}]
                if not any(requirement.marker.evaluate(env) for env in environments):
                    continue  # an extra nobody asked for, or another platform's dependency
            name = requirement.name.lower().replace("_", "-")
            if name in seen:
                continue
            try:
                child = metadata.distribution(requirement.name)
            except metadata.PackageNotFoundError:
                missing.append(name)
                continue
            seen[name] = (child, licence_text(child))
            pending.append((child, set(requirement.extras)))
    assert not missing, f"required but not installed: {', '.join(sorted(missing))}"
    return seen


def test_no_runtime_dependency_is_gpl():
    closure = runtime_closure(installed_fabricate())
    assert {"xatlas", "pynanoinstantmeshes", "trimesh", "numpy"} <= set(closure)
    listing = "\n".join(f"  {name} {dist.version}: {text or '(no licence stated)'}"
                        for name, (dist, text) in sorted(closure.items()))
    copyleft = [name for name, (_, text) in closure.items() if COPYLEFT.search(text)]
    assert not copyleft, f"copyleft runtime dependencies: {', '.join(sorted(copyleft))}\n{listing}"


def test_the_copyleft_pattern_catches_the_gpl_family():
    for text in ("GPL-3.0-only", "LGPL-2.1-or-later", "AGPL-3.0", "License :: OSI Approved :: GNU General Public "
                 "License v3 (GPLv3)", "GNU Lesser General Public License v2 or later (LGPLv2+)"):
        assert COPYLEFT.search(text), text
    for text in ("MIT", "BSD-3-Clause", "Apache-2.0", "MPL-2.0", "License :: OSI Approved :: BSD License"):
        assert not COPYLEFT.search(text), text
