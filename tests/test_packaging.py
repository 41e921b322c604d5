"""setup.cfg installs every package of the product folders (an editable install finds a package
that setup.cfg forgot; a real `pip install` leaves it out)."""

from __future__ import annotations

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _declared() -> tuple[set[str], dict[str, str]]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    packages = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    lines = [line for line in cfg["options"]["package_dir"].splitlines() if "=" in line]
    mapping = {k.strip(): v.strip() for k, v in (line.split("=") for line in lines)}
    return packages, mapping


def test_every_package_folder_is_installed() -> None:
    packages, mapping = _declared()
    top = {name: REPO / folder for name, folder in mapping.items() if name.count(".") == 1}
    found = set()
    for name, folder in top.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join([name, *rel]))
    assert found - packages == set(), "add these to setup.cfg [options] packages"
    assert packages - found == set(), "setup.cfg names packages that do not exist"
