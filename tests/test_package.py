"""The package's public surface: every exported name resolves, and no submodule shadows one."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pvbess


def test_every_export_resolves_to_a_non_module_object():
    for name in pvbess.__all__:
        value = getattr(pvbess, name)
        assert not isinstance(value, types.ModuleType), f"pvbess.{name} is a module"


def test_importing_every_submodule_shadows_no_export():
    # importing pvbess.<sub> binds the attribute pvbess.<sub>; no export may share such a name
    for info in pkgutil.walk_packages(pvbess.__path__, prefix="pvbess."):
        importlib.import_module(info.name)
    for name in pvbess.__all__:
        assert not isinstance(getattr(pvbess, name), types.ModuleType), (
            f"pvbess.{name} was shadowed by the submodule of the same name")


def test_unknown_attribute_is_an_attribute_error():
    try:
        pvbess.no_such_thing  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:
        raise AssertionError("expected AttributeError")
