# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prepares ansible-test's sanity virtual environments from Debian's packages, offline.

ansible-test sanity runs each test with requirements in a virtual environment of
its own, under ~/.ansible/test/venv/sanity.TEST/VERSION/HASH, which it fills by
downloading a pip bootstrap script from ci-files.testing.ansible.com and pinned
packages from PyPI.  Offline, that fails before any test runs.  This makes each
of those environments ahead of time, at the very path ansible-test computes (with
its own functions), as a venv with the system site packages, so the tests use
the Debian packages contrib/bootstrap installs (pylint, yamllint, pycodestyle,
voluptuous, jinja2, pyyaml), and writes the marker that makes ansible-test reuse it.

usage: python3 tests/sanity_venvs.py   (from inside ansible_collections/NS/NAME)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_test._internal.commands.sanity import hash_pip_commands
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import collect_requirements

# (test, minimize, system site packages): the import test of modules runs in an
# environment with nothing but the standard library, as the modules need on a host.
TESTS = [('ansible-doc', False, True), ('changelog', False, True), ('import', False, True),
         ('import.module', True, False), ('import.plugin', True, True), ('integration-aliases', False, True),
         ('pep8', False, True), ('pylint', False, True), ('runtime-metadata', False, True),
         ('validate-modules', False, True), ('yamllint', False, True)]


def main():
    version = '%d.%d' % sys.version_info[:2]
    python = NativePythonConfig(version=version, path=sys.executable)
    cache = os.path.expanduser('~/.ansible/test/venv')
    for name, minimize, site in TESTS:
        commands = collect_requirements(python=python, controller=True, virtualenv=False, command=None,
                                        ansible=False, cryptography=False, coverage=False, minimize=minimize,
                                        sanity=name)
        path = os.path.join(cache, 'sanity.%s' % name, version, hash_pip_commands(commands))
        if os.path.exists(os.path.join(path, 'marker.txt')):
            continue
        subprocess.check_call([sys.executable, '-m', 'venv', '--without-pip', path]
                              + (['--system-site-packages'] if site else []))
        with open(os.path.join(path, 'meta.install.json'), 'w') as f:
            f.write(json.dumps([command.serialize() for command in commands], indent=4))
        with open(os.path.join(path, 'meta.yaml.json'), 'w') as f:
            f.write('true')
        with open(os.path.join(path, 'marker.txt'), 'w') as f:
            f.write('made from system site packages by tests/sanity_venvs.py\n')
        print('sanity venv for %s: %s' % (name, path))


if __name__ == '__main__':
    main()
