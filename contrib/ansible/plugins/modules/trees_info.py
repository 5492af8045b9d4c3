#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: trees_info
short_description: What trees holds and runs on a host, per code base
version_added: "0.1.0"
description:
  - For each name, the current, previous and last good revisions, every installed tree with its state,
    verdict and jobs, whether the host has converged (a current revision and no job on any other),
    the oldest job still running from an old revision and its age, what C(trees gc) would delete or keep
    and why, and each release's history.
  - Reads C(trees list NAME --json --jobs), C(trees status NAME --json), C(trees gc --dry-run --json)
    and C(trees history NAME --json); changes nothing.
  - A rollout gate reads this module's result from every host (see the collection's C(rollout.yml)
    playbook and the C(trees.trees.rollout_gate) filter).
author:
  - trees contributors (@trees)
options:
  name:
    description:
      - The code bases to describe. Without it, every name installed under the root.
      - A name with no trees is reported with C(installed=false) (a host that never got it has not converged).
    type: list
    elements: str
  gc:
    description: Also ask C(trees gc --dry-run --json) what it would delete or keep, and why (one /proc scan).
    type: bool
    default: true
  history:
    description: Also include each release's history (C(trees history NAME --json)).
    type: bool
    default: true
extends_documentation_fragment:
  - trees.trees.cli
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
'''

EXAMPLES = r'''
- name: What runs from which revision of importd
  trees.trees.trees_info:
    name: importd
  register: info

- name: Show the oldest job still on an old revision
  ansible.builtin.debug:
    msg: "{{ info.trees.importd.oldest_old_job }}"
  when: not info.trees.importd.converged
'''

RETURN = r'''
names:
  description: The names described.
  returned: always
  type: list
  elements: str
  sample: [importd]
trees:
  description: Per name, what the host holds and runs.
  returned: always
  type: dict
  contains:
    installed:
      description: Whether any tree of the name is installed.
      type: bool
    current:
      description: The current revision, or null.
      type: str
    current_verdict:
      description: Its verdict, C(unverified), C(good) or C(bad).
      type: str
    previous:
      description: The revision current before the present one (from the history), or null.
      type: str
    last_good:
      description: The good, still installed revision most recently current (C(rollback --to last-good)), or null.
      type: str
    converged:
      description: A current revision, no job on any other, and no process that could not be inspected (C(trees status)).
      type: bool
    jobs_on_current:
      description: Processes running from the current revision.
      type: int
    old_jobs:
      description: Processes running from any other revision.
      type: int
    revisions_with_jobs:
      description: The revisions, current or not, that processes run from.
      type: list
      elements: str
    unknown_processes:
      description: Processes that could not be inspected (they keep every tree they might use).
      type: int
    oldest_old_job:
      description: The oldest job still on an old revision (pid, rev, command, started_at, age_seconds), or null.
      type: dict
    trees:
      description:
        - Every installed tree, as C(trees list NAME --json --jobs) gives it
          (rev, state, current, pinned, verdict, jobs, leases, path, digest, bytes, installed_at).
      type: list
      elements: dict
    gc:
      description:
        - What C(trees gc --dry-run --json) would do with each tree of the name (action, reason, pids).
        - Null when gc may not run here (see C(gc_error)).
      type: list
      elements: dict
    gc_error:
      description: Why gc's plan is missing (not the operator, another gc running).
      type: str
    history:
      description: Each release's life, from C(trees history NAME --json).
      type: list
      elements: dict
  sample:
    importd:
      installed: true
      current: r9922
      previous: r9921
      last_good: r9922
      converged: false
      old_jobs: 1
      oldest_old_job: {pid: 4242, rev: r9921, command: "bin/import --all", started_at: "2026-12-06T21:03:00Z", age_seconds: 7260}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.trees.trees.plugins.module_utils.trees_cli import (
    COMMON_ARGUMENT_SPEC, TreesCLI, current_rev, last_good_rev, now, parse_time, previous_rev,
)


def describe(cli, name, with_gc, with_history, gc_rows, gc_error):
    rows = cli.trees(name, jobs=True)
    if not rows:
        return dict(installed=False, current=None, current_verdict=None, previous=None, last_good=None,
                    converged=False, jobs_on_current=0, old_jobs=0, revisions_with_jobs=[], unknown_processes=0,
                    oldest_old_job=None, trees=[], gc=[] if with_gc else None, history=[] if with_history else None)
    status = cli.status(name) or {}
    history = cli.history(name)
    current = current_rev(rows)
    oldest = status.get('oldest_old_job')
    if oldest:
        oldest = dict(oldest)
        started = parse_time(oldest.get('started_at'))
        oldest['age_seconds'] = int((now() - started).total_seconds()) if started else None
    info = dict(
        installed=True,
        current=current,
        current_verdict=status.get('current_verdict'),
        previous=previous_rev(history, current),
        last_good=last_good_rev(history),
        converged=bool(status.get('converged')),
        jobs_on_current=sum(row.get('jobs') or 0 for row in rows if row.get('current')),
        old_jobs=sum(row.get('jobs') or 0 for row in rows if not row.get('current')),
        revisions_with_jobs=[row['rev'] for row in rows if row.get('jobs')],
        unknown_processes=status.get('unknown_processes', 0),
        oldest_old_job=oldest,
        trees=rows,
        history=history if with_history else None,
    )
    if with_gc:
        info['gc'] = None if gc_rows is None else [row for row in gc_rows if row.get('name') == name]
        if gc_error:
            info['gc_error'] = gc_error
    return info


def main():
    argument_spec = dict(
        name=dict(type='list', elements='str'),
        gc=dict(type='bool', default=True),
        history=dict(type='bool', default=True),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = TreesCLI(module)
    names = module.params['name']
    if not names:
        result = cli.require(cli.run('list'))
        names = sorted(set(row['name'] for row in result.data or [] if row.get('state') != 'deleted'))
    gc_rows, gc_error = (None, None)
    if module.params['gc']:
        gc_rows, gc_error = cli.gc_plan()
    trees = {}
    for name in names:
        trees[name] = describe(cli, name, module.params['gc'], module.params['history'], gc_rows, gc_error)
    module.exit_json(changed=False, names=names, trees=trees)


if __name__ == '__main__':
    main()
