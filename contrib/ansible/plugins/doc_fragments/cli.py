# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The options every trees.trees module takes: how to reach trees and its root.
    DOCUMENTATION = r'''
options:
  root:
    description:
      - The trees root (C(trees --root)).
      - Without it, trees uses C(TREES_ROOT) from the environment, else C(/srv/trees).
    type: path
  binary:
    description:
      - Path of the trees executable.
      - Without it, C(trees) is looked up on C(PATH) (the Debian package installs C(/usr/bin/trees)).
    type: path
  lock_timeout:
    description:
      - Seconds trees waits for any of its locks before giving up with exit status 75 (C(TREES_LOCK_TIMEOUT)).
    type: int
requirements:
  - trees (the command-line tool) on the managed host; only Python's standard library besides.
notes:
  - Modules call the trees command line with C(--json) and map its exit statuses
    (0 ok, 1 failure, 64 usage, 65 bad input or a release marked bad, 66 not found,
    75 temporary, in use or timed out) to their results; a failed result carries
    C(rc), C(exit_status), C(cmd), C(stdout) and C(stderr).
'''
