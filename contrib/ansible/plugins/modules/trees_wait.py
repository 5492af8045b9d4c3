#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: trees_wait
short_description: Wait until a tree is drained or a host has converged
version_added: "0.1.0"
description:
  - With I(until=drained), blocks until nothing runs from C(NAME@REV), by lease or /proc evidence, and no
    process that might use it is uninspectable (C(trees wait NAME@REV --timeout D)).
  - With I(until=converged), polls C(trees status NAME --json) until the host has converged on the name
    (a current revision, no job on any other, no process that could not be inspected), and with I(rev),
    until that revision is the current one.
  - Fails when I(timeout) passes first, naming what still runs. Waits only; signals nothing
    (see M(trees.trees.trees_release) with I(state=drained)).
author:
  - trees contributors (@trees)
options:
  name:
    description: The code base.
    type: str
    required: true
  rev:
    description:
      - With I(until=drained), the revision to wait for (required).
      - With I(until=converged), the revision that must be current; without it, any.
    type: str
  until:
    description: What to wait for.
    type: str
    choices: [drained, converged]
    default: drained
  timeout:
    description: How long to wait at most (trees DURATION such as C(90), C(30s), C(5m), C(2h), C(1d)).
    type: str
    default: 10m
  poll:
    description: With I(until=converged), seconds between two looks at C(trees status).
    type: int
    default: 5
extends_documentation_fragment:
  - trees.trees.cli
attributes:
  check_mode:
    support: full
    description: The module only reads and waits.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
'''

EXAMPLES = r'''
- name: Wait for the last job on the old revision to finish
  trees.trees.trees_wait:
    name: importd
    rev: r9921
    timeout: 2h

- name: Wait until the host runs only r9922
  trees.trees.trees_wait:
    name: importd
    rev: r9922
    until: converged
    timeout: 3h
    poll: 30
'''

RETURN = r'''
elapsed:
  description: Seconds waited.
  returned: always
  type: int
  sample: 12
status:
  description: The last C(trees status NAME --json) row (current, converged, others, oldest_old_job, unknown_processes).
  returned: with I(until=converged)
  type: dict
rc:
  description: The exit status of the trees command that failed (75 on timeout).
  returned: failure
  type: int
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.trees.trees.plugins.module_utils.trees_cli import (
    COMMON_ARGUMENT_SPEC, OK, TEMPORARY, TreesCLI, error_lines, parse_duration, tree_of,
)


def wait_drained(module, cli, started):
    params = module.params
    tree = tree_of(params['name'], params['rev'])
    result = cli.run('wait', [tree, '--timeout', params['timeout']], json_output=False)
    elapsed = int(time.time() - started)
    if result.rc != OK:
        # On timeout trees names who still runs from the tree, one line each.
        lines = error_lines(result.stderr)
        cli.fail(result, msg=(' '.join(lines) if result.rc == TEMPORARY and lines else result.message), elapsed=elapsed)
    module.exit_json(changed=False, elapsed=elapsed, msg='%s is drained' % tree)


def converged(status, rev):
    return bool(status) and bool(status.get('converged')) and (rev is None or status.get('current') == rev)


def why_not(status, rev):
    if not status:
        return 'no trees installed'
    reasons = []
    if rev is not None and status.get('current') != rev:
        reasons.append('current is %s, not %s' % (status.get('current'), rev))
    for other in status.get('others') or []:
        if other.get('jobs'):
            reasons.append('%d jobs on %s' % (other['jobs'], other.get('rev')))
    if status.get('unknown_processes'):
        reasons.append('%d processes cannot be inspected' % status['unknown_processes'])
    oldest = status.get('oldest_old_job')
    if oldest:
        reasons.append('oldest: pid %s on %s since %s (%s)' % (
            oldest.get('pid'), oldest.get('rev'), oldest.get('started_at'), oldest.get('command')))
    return '; '.join(reasons) or 'not converged'


def wait_converged(module, cli, started, deadline):
    params = module.params
    while True:
        status = cli.status(params['name'])
        elapsed = int(time.time() - started)
        if converged(status, params['rev']):
            module.exit_json(changed=False, elapsed=elapsed, status=status,
                             msg='%s has converged on %s' % (params['name'], status.get('current')))
        if time.time() >= deadline:
            why = why_not(status, params['rev'])
            module.fail_json(msg='%s has not converged after %s: %s' % (params['name'], params['timeout'], why),
                             rc=75, exit_status='temporary', elapsed=elapsed, status=status)
        time.sleep(max(0, min(params['poll'], deadline - time.time())))


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        rev=dict(type='str'),
        until=dict(type='str', default='drained', choices=['drained', 'converged']),
        timeout=dict(type='str', default='10m'),
        poll=dict(type='int', default=5),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, required_if=[('until', 'drained', ['rev'])],
                           supports_check_mode=True)
    seconds = parse_duration(module.params['timeout'])
    if seconds is None:
        module.fail_json(msg='timeout must be a trees DURATION (90, 30s, 5m, 2h, 1d), not %r' % module.params['timeout'])
    if module.params['poll'] < 1:
        module.fail_json(msg='poll must be 1 second or more')
    cli = TreesCLI(module)
    started = time.time()
    if module.params['until'] == 'drained':
        wait_drained(module, cli, started)
    else:
        wait_converged(module, cli, started, started + seconds)


if __name__ == '__main__':
    main()
