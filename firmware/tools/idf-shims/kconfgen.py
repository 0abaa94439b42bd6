"""Stand-in for ESP-IDF's `python -m kconfgen` (pip package esp-idf-kconfig),
built on Debian's python3-kconfiglib, for firmware/tools/idf-build-check.sh.

Handles what IDF's tools/cmake/kconfig.cmake passes at configure time:
--kconfig, --sdkconfig-rename, --config, --defaults, --env, --env-file,
--list-separator and --output {header,cmake,json,json_menus,config}.
Deprecated names from every sdkconfig.rename are emitted as aliases, as
kconfgen does, so code still using an old name sees its value.
"""
import argparse
import json
import os
import sys

import kconfiglib

# IDF's Kconfig gives some menus a help text; kconfiglib 14 only initialises
# `help` on config/choice nodes and fails reading it on a menu.
_menunode_init = kconfiglib.MenuNode.__init__


def _menunode_init_with_help(self, *args, **kwargs):
    _menunode_init(self, *args, **kwargs)
    if not hasattr(self, "help"):
        self.help = None


kconfiglib.MenuNode.__init__ = _menunode_init_with_help


def parse_args():
    p = argparse.ArgumentParser(prog="kconfgen")
    p.add_argument("--kconfig", required=True)
    p.add_argument("--sdkconfig-rename", default=None)
    p.add_argument("--config", default=None)
    p.add_argument("--defaults", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--env-file", default=None)
    p.add_argument("--list-separator", default="space")
    p.add_argument("--output", nargs=2, action="append", default=[])
    p.add_argument("--dont-write-deprecated", action="store_true")
    return p.parse_args()


def read_renames(paths):
    """old name -> (new name, inverted) from sdkconfig.rename files."""
    renames = {}
    for path in paths:
        if not path or not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if len(line) != 2:
                    continue
                old, new = line
                inverted = new.startswith("!")
                renames[old[len("CONFIG_"):]] = (new.lstrip("!")[len("CONFIG_"):], inverted)
    return renames


def load_with_renames(kconf, path, renames, replace):
    """Load a config or defaults file, mapping deprecated names to new ones."""
    lines = []
    with open(path) as f:
        for line in f:
            s = line.strip()
            for old, (new, inv) in renames.items():
                if s.startswith("CONFIG_" + old + "=") or s == "# CONFIG_" + old + " is not set":
                    if inv:
                        val = "n" if s.endswith("=y") else "y"
                        line = "CONFIG_%s=%s\n" % (new, val)
                    else:
                        line = line.replace("CONFIG_" + old, "CONFIG_" + new, 1)
                    break
            lines.append(line)
    tmp = path + ".kconfgen-tmp"
    try:
        with open(tmp, "w") as f:
            f.writelines(lines)
        kconf.load_config(tmp, replace=replace)
    finally:
        os.unlink(tmp)


def value_of(sym):
    """(cmake string, json value) of a symbol, or None when it has no value."""
    if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        on = sym.str_value != "n"
        return ("y" if on else "", on)
    v = sym.str_value
    if sym.type == kconfiglib.INT:
        return (v, int(v)) if v != "" else None
    if sym.type == kconfiglib.HEX:
        return (v, int(v, 16)) if v != "" else None
    if sym.type == kconfiglib.STRING:
        return (v, v)
    return None


def main():
    a = parse_args()
    env = {}
    if a.env_file:
        with open(a.env_file) as f:
            env.update(json.load(f))
    for e in a.env:
        k, _, v = e.partition("=")
        env[k] = v
    for k, v in env.items():
        os.environ[k] = str(v)

    sep = ";" if a.list_separator == "semicolon" else " "
    rename_files = [a.sdkconfig_rename] + [
        p for p in env.get("COMPONENT_SDKCONFIG_RENAMES", "").split(sep) if p
    ]
    renames = read_renames(rename_files)

    kconf = kconfiglib.Kconfig(a.kconfig, warn_to_stderr=False)
    for d in a.defaults:
        load_with_renames(kconf, d, renames, replace=False)
    if a.config and os.path.isfile(a.config):
        load_with_renames(kconf, a.config, renames, replace=False)

    values = {}
    for s in kconf.unique_defined_syms:
        s.str_value  # evaluating sets _write_to_conf, as write_config does
        v = value_of(s)
        if v is not None and s._write_to_conf:
            values[s.name] = v
    aliases = {}
    if not a.dont_write_deprecated:
        for old, (new, inv) in renames.items():
            if new in values and old not in values:
                cm, js = values[new]
                if inv and isinstance(js, bool):
                    aliases[old] = ("" if js else "y", not js)
                else:
                    aliases[old] = (cm, js)

    for kind, path in a.output:
        if kind == "config":
            kconf.write_config(path, header="# Generated by kconfgen stand-in (kconfiglib)\n")
        elif kind == "header":
            with open(path, "w") as f:
                f.write("/* Generated by kconfgen stand-in (kconfiglib) */\n#pragma once\n")
                for name, (cm, js) in list(values.items()) + list(aliases.items()):
                    sym = kconf.syms.get(name)
                    if isinstance(js, bool):
                        if js:
                            f.write("#define CONFIG_%s 1\n" % name)
                    elif sym is not None and sym.type == kconfiglib.STRING or (sym is None and isinstance(js, str)):
                        f.write('#define CONFIG_%s "%s"\n' % (name, kconfiglib.escape(cm)))
                    else:
                        f.write("#define CONFIG_%s %s\n" % (name, cm))
        elif kind == "cmake":
            with open(path, "w") as f:
                f.write("# Generated by kconfgen stand-in (kconfiglib)\n")
                names = []
                for name, (cm, js) in list(values.items()) + list(aliases.items()):
                    f.write('set(CONFIG_%s "%s")\n' % (name, cm.replace("\\", "\\\\").replace('"', '\\"')))
                    names.append("CONFIG_" + name)
                f.write("set(CONFIGS_LIST %s)\n" % ";".join(names))
        elif kind == "json":
            with open(path, "w") as f:
                json.dump({n: js for n, (cm, js) in list(values.items()) + list(aliases.items())}, f, indent=4)
        elif kind == "json_menus":
            with open(path, "w") as f:
                json.dump([], f)
        else:
            sys.exit("kconfgen stand-in: output kind %s not supported" % kind)


if __name__ == "__main__":
    main()
