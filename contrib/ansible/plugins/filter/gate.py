# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollout_gate: is the rollout of NAME complete across these hosts?

The same answer as the Prometheus query in README ("Watching a fleet"):
complete when every host is current on one revision (REV, when given) and no
job runs from any other revision on any host.  Its input is what
trees.trees.trees_info registered on each host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: rollout_gate
short_description: Whether a rollout is complete across hosts, from trees_info's answers
version_added: "0.1.0"
description:
  - Complete when every host is current on one revision (I(rev), when given) and no job runs from any other revision.
  - A host with no answer (unreachable, failed, never installed) blocks the rollout.
  - Processes that cannot be inspected do not block it (as in the Prometheus query); C(trees_wait) with
    I(until=converged) waits for them too.
positional: _input, hostvars, name, rev, var
options:
  _input:
    description: The hosts, such as C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  name:
    description: The code base.
    type: str
    required: true
  rev:
    description: The revision every host must be current on; without it, any one revision.
    type: str
  var:
    description: The variable each host registered C(trees.trees.trees_info) in.
    type: str
    default: trees_gate
'''

EXAMPLES = r'''
- name: The gate
  run_once: true
  vars:
    gate: "{{ ansible_play_hosts_all | trees.trees.rollout_gate(hostvars, 'importd', 'r9922') }}"
  ansible.builtin.assert:
    that: gate.complete
    fail_msg: "{{ gate.summary }}"
    success_msg: "{{ gate.summary }}"
'''

RETURN = r'''
_value:
  description: complete, revisions (rev to hosts), blocking (host, current, old_jobs, revisions_with_jobs, oldest_old_job, reason), summary.
  type: dict
'''


def _answer(hostvars, host, var, name):
    try:
        registered = hostvars[host][var]
    except Exception:  # pylint: disable=broad-except
        return None
    if not isinstance(registered, dict) or registered.get('failed') or registered.get('skipped'):
        return None
    return (registered.get('trees') or {}).get(name)


def _age(job):
    if not job:
        return -1
    return job.get('age_seconds') if job.get('age_seconds') is not None else -1


def rollout_gate(hosts, hostvars, name, rev=None, var='trees_gate'):
    revisions = {}
    blocking = []
    answers = {}
    for host in hosts:
        info = _answer(hostvars, host, var, name)
        answers[host] = info
        if info is None:
            blocking.append(dict(host=host, current=None, old_jobs=None, revisions_with_jobs=[],
                                 oldest_old_job=None, reason='no answer from trees_info'))
            continue
        current = info.get('current')
        if current is not None:
            revisions.setdefault(current, []).append(host)
    target = rev
    if target is None and len(revisions) == 1:
        target = list(revisions)[0]
    for host in hosts:
        info = answers[host]
        if info is None:
            continue
        reasons = []
        current = info.get('current')
        if not info.get('installed', True):
            reasons.append('no trees of %s installed' % name)
        elif current is None:
            reasons.append('no current revision of %s' % name)
        elif target is None or current != target:
            reasons.append('current is %s' % current)
        stray = [r for r in info.get('revisions_with_jobs') or [] if r != target]
        old_jobs = sum(t.get('jobs') or 0 for t in info.get('trees') or [] if t.get('rev') != target)
        if stray:
            reasons.append('%d jobs on %s' % (old_jobs, ', '.join(stray)))
        if reasons:
            blocking.append(dict(host=host, current=current, old_jobs=old_jobs, revisions_with_jobs=stray,
                                 oldest_old_job=info.get('oldest_old_job'), reason='; '.join(reasons)))
    blocking.sort(key=lambda b: (-_age(b.get('oldest_old_job')), b['host']))
    complete = not blocking and target is not None and len(revisions) == 1
    by_rev = ', '.join('%s on %s' % (r, len(h)) for r, h in sorted(revisions.items())) or 'nothing current'
    if complete:
        summary = 'rollout of %s complete: all %d hosts current on %s, no job on another revision' % (
            name, len(hosts), target)
    else:
        summary = 'rollout of %s not complete (%s): %s' % (
            name, by_rev, '; '.join('%s: %s' % (b['host'], b['reason']) for b in blocking) or 'hosts disagree')
    return dict(complete=complete, name=name, rev=target, revisions=revisions, blocking=blocking, summary=summary)


class FilterModule(object):
    def filters(self):
        return {'rollout_gate': rollout_gate}
