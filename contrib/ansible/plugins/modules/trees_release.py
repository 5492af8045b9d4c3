#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: trees_release
short_description: Install, activate, judge, drain and remove one release with trees
version_added: "0.1.0"
description:
  - Drives one release C(NAME@REV) of a code base through its life on a host with the trees command line,
    which installs every revision side by side at C(ROOT/NAME/REV), switches C(ROOT/NAME/current) in one
    C(rename(2)), tracks which processes run from which tree and deletes a tree only once nothing runs from it.
  - C(changed) comes from trees' own answer (C(trees list NAME --json) before and after, or the verb's JSON);
    check mode runs only trees' read verbs and dry runs; diff mode shows C(current) before and after,
    the installed revisions, the verdict, and what C(trees gc --dry-run) would keep or delete, and why.
author:
  - trees contributors (@trees)
options:
  name:
    description: The code base, such as C(importd).
    type: str
    required: true
  rev:
    description: The revision, such as C(r9922) or a git commit.
    type: str
    required: true
  state:
    description:
      - C(present) installs the release from I(src) (C(trees install)). Installing the same content again
        changes nothing; different content under the same C(NAME@REV) fails (exit status 65).
      - C(active) makes it current (C(trees activate)), optionally with I(check) run from the new tree
        within I(within). A failed check marks the release bad and trees returns current to the last
        good revision in the same step; the task then fails, with the activation's JSON (C(activation),
        C(returned_to)).
      - C(good) and C(bad) give the release its verdict (C(trees mark)), with I(reason).
      - C(drained) tells every process running from the tree to finish and waits until none does
        (C(trees drain)), by I(signal) and I(then), or else by the protocol the release declared at install.
      - C(absent) deletes the tree (C(trees remove)), never while anything runs from it, nor the current
        or a pinned one (exit status 75, the task fails with trees' message).
    type: str
    choices: [present, active, good, bad, drained, absent]
    default: present
  src:
    description:
      - With I(state=present), where the release comes from on the host, as C(trees install) takes it
        a directory (copied), an archive (C(.tar), C(.tar.gz), C(.tgz), C(.tar.xz), C(.tar.zst)),
        or with I(git_ref) a git repository path or URL.
    type: str
  git_ref:
    description: With I(state=present), export this branch, tag or commit of the git repository I(src).
    type: str
  dedup:
    description:
      - With I(state=present), hard-link files identical to those of a recent revision (the default);
        C(false) copies every file (C(--no-dedup)).
    type: bool
    default: true
  drain_protocol:
    description:
      - With I(state=present), the protocol by which the release's processes are told to finish,
        kept with the tree (C(trees install --drain), such as C(TSTP,TERM@2h)).
    type: str
  check:
    description:
      - With I(state=active), a shell command run from the new tree after the switch (C(trees activate --check)).
        Exit 0 in time marks the release good; anything else marks it bad and returns current to the last
        good revision.
    type: str
  within:
    description: With I(check), how long the check may run (trees DURATION such as C(90), C(30s), C(5m), C(2h)).
    type: str
  force:
    description: With I(state=active), activate a release marked bad.
    type: bool
    default: false
  reason:
    description: With I(state=good) or I(state=bad), why, for the record (C(trees history)).
    type: str
  signal:
    description:
      - With I(state=drained), the first signal of the drain, sent at once (C(--signal)), such as C(TERM) or C(TSTP).
      - Without it, the release's own protocol (I(drain_protocol) at install), else C(TERM) at once.
    type: str
  then:
    description:
      - With I(signal), later steps (C(--then)), each C(SIG@DURATION) after the drain began or
        C(SIG@+DURATION) after the step before, such as C(TERM@2h) and C(KILL@+60s).
    type: list
    elements: str
  timeout:
    description:
      - With I(state=drained), wait at most this long (trees DURATION), then fail naming the survivors;
        the drain's schedule stays, and running the task again resumes it.
      - With I(state=absent) and I(wait), how long to wait for the tree to drain before removing it.
    type: str
  include_current:
    description: With I(state=drained), drain the tree even if it is the current revision.
    type: bool
    default: false
  wait:
    description: With I(state=absent), wait until nothing runs from the tree, then delete it (C(trees remove --wait)).
    type: bool
    default: false
extends_documentation_fragment:
  - trees.trees.cli
attributes:
  check_mode:
    support: full
    description:
      - Runs only C(trees list), C(trees gc --dry-run) and other read verbs, and reports what would change.
      - With I(state=present), an installed C(NAME@REV) counts as unchanged; whether its content matches I(src)
        is known only by installing (trees refuses different content with exit status 65).
  diff_mode:
    support: full
    description: C(current), the installed revisions or the verdict before and after, and gc's plan for the name.
'''

EXAMPLES = r'''
- name: Install r9922 from a directory on the host
  trees.trees.trees_release:
    name: importd
    rev: r9922
    src: /srv/build/importd-r9922
    drain_protocol: TSTP,TERM@2h

- name: Activate it with its health check; on failure trees goes back to the last good release
  trees.trees.trees_release:
    name: importd
    rev: r9922
    state: active
    check: bin/healthcheck
    within: 5m

- name: Judge a release by hand
  trees.trees.trees_release:
    name: importd
    rev: r9921
    state: good
    reason: a week in production

- name: Tell the jobs of the old release to finish, by its own protocol, for at most three hours
  trees.trees.trees_release:
    name: importd
    rev: r9921
    state: drained
    timeout: 3h

- name: Or with given signals and deadlines
  trees.trees.trees_release:
    name: importd
    rev: r9921
    state: drained
    signal: TSTP
    then: [TERM@2h, KILL@+60s]

- name: Delete it once drained
  trees.trees.trees_release:
    name: importd
    rev: r9921
    state: absent
    wait: true
    timeout: 1h
'''

RETURN = r'''
tree:
  description: The release's row from C(trees list NAME --json) after the task (absent once removed).
  returned: when the tree is installed
  type: dict
  sample: {"name": "importd", "rev": "r9922", "state": "ready", "current": true, "verdict": "good",
           "pinned": false, "path": "/srv/trees/importd/r9922", "digest": "sha256:...", "leases": 0}
current:
  description: The current revision of the name after the task.
  returned: always
  type: str
  sample: r9922
previous:
  description: The current revision of the name before the task.
  returned: always
  type: str
  sample: r9921
verdict:
  description: The release's verdict after the task, C(unverified), C(good) or C(bad).
  returned: when the tree is installed
  type: str
  sample: good
activation:
  description: The JSON of C(trees activate --json) (tree, path, previous, current, verdict, check, returned_to).
  returned: when I(state=active) ran C(trees activate), also when its check failed
  type: dict
returned_to:
  description: Where a failed check moved current back to (C(NAME@REV)), or null when it could not.
  returned: when the check of I(state=active) failed
  type: str
  sample: importd@r9921
mark:
  description: The JSON of C(trees mark --json) (tree, verdict, by, at, reason).
  returned: when I(state=good) or I(state=bad) changed the verdict
  type: dict
drain:
  description: The summary of C(trees drain --json) (drained, protocol, started_at, finished_at, steps_sent, survivors, unknown, kernel_holds).
  returned: when I(state=drained) ran C(trees drain)
  type: dict
events:
  description: Every event C(trees drain --json) printed before its summary (began, step, signal, cgroup-kill, exited, ...).
  returned: when I(state=drained) ran C(trees drain)
  type: list
  elements: dict
bytes_freed:
  description: Bytes C(trees remove) freed.
  returned: when I(state=absent) removed the tree
  type: int
gc:
  description: What C(trees gc --dry-run --json) says of the name's trees (action, reason, pids), in diff mode.
  returned: in diff mode, when gc may run
  type: list
  elements: dict
rc:
  description: The exit status of the trees command that failed.
  returned: failure
  type: int
exit_status:
  description: The meaning of C(rc) in trees' contract (C(failure), C(usage), C(bad input), C(not found), C(temporary)).
  returned: failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.trees.trees.plugins.module_utils.trees_cli import (
    BAD_INPUT, COMMON_ARGUMENT_SPEC, NOT_FOUND, TEMPORARY, USAGE, TreesCLI,
    current_rev, find_tree, gc_lines, tree_of,
)


class Release:
    def __init__(self, module, cli):
        self.module = module
        self.cli = cli
        params = module.params
        self.name = params['name']
        self.rev = params['rev']
        self.tree = tree_of(self.name, self.rev)
        self.diffs = []
        self.gc = None

    def exit(self, changed, rows, **fields):
        row = find_tree(rows, self.rev)
        fields.setdefault('current', current_rev(rows))
        if row is not None:
            fields.setdefault('tree', row)
            fields.setdefault('verdict', row.get('verdict'))
        if self.module._diff:
            self.add_gc_plan()
            if self.diffs:
                fields['diff'] = self.diffs
            if self.gc is not None:
                fields['gc'] = self.gc
        self.module.exit_json(changed=changed, **fields)

    def add_gc_plan(self):
        rows, why = self.cli.gc_plan(self.name)
        if rows is None:
            self.diffs.append(dict(prepared='trees gc --dry-run could not run here: %s\n' % why))
            return
        self.gc = rows
        lines = gc_lines(rows) or ['nothing installed']
        self.diffs.append(dict(prepared='trees gc --dry-run for %s (before this task):\n  %s\n'
                                        % (self.name, '\n  '.join(lines))))

    def diff(self, label, before, after):
        self.diffs.append(dict(before_header=self.tree, after_header=self.tree,
                               before='%s: %s\n' % (label, before), after='%s: %s\n' % (label, after)))

    @staticmethod
    def installed(rows):
        return ', '.join(row['rev'] for row in rows) or '(none)'

    # state=present

    def present(self):
        params = self.module.params
        before = self.cli.trees(self.name)
        existed = find_tree(before, self.rev) is not None
        if self.module.check_mode:
            if not existed:
                self.diff('installed', self.installed(before), self.installed(before + [dict(rev=self.rev)]))
            self.exit(not existed, before, previous=current_rev(before))
        args = [self.tree, params['src']]
        if params['git_ref']:
            args += ['--git-ref', params['git_ref']]
        if not params['dedup']:
            args.append('--no-dedup')
        if params['drain_protocol']:
            args += ['--drain', params['drain_protocol']]
        self.cli.require(self.cli.run('install', args, json_output=False))
        after = self.cli.trees(self.name)
        if find_tree(after, self.rev) is None:
            self.module.fail_json(msg='trees install succeeded but trees list does not show %s' % self.tree)
        if not existed:
            self.diff('installed', self.installed(before), self.installed(after))
        self.exit(not existed, after, previous=current_rev(before))

    # state=active

    def active(self):
        params = self.module.params
        before = self.cli.trees(self.name)
        previous = current_rev(before)
        if previous == self.rev:
            self.exit(False, before, previous=previous)
        if self.module.check_mode:
            self.diff('current', previous, self.rev)
            msg = None if find_tree(before, self.rev) else '%s is not installed yet' % self.tree
            self.exit(True, before, previous=previous, current=self.rev, **({'msg': msg} if msg else {}))
        args = [self.tree]
        if params['check']:
            args += ['--check', params['check']]
            if params['within']:
                args += ['--within', params['within']]
        if params['force']:
            args.append('--force')
        result = self.cli.run('activate', args)
        data = result.data if isinstance(result.data, dict) else None
        if result.rc == BAD_INPUT and data and (data.get('check') or {}).get('result') == 'failed':
            after = self.cli.trees(self.name)
            self.cli.fail(result, changed=True, activation=data, returned_to=data.get('returned_to'),
                          previous=previous, current=current_rev(after), verdict='bad', tree=find_tree(after, self.rev))
        self.cli.require(result)
        after = self.cli.trees(self.name)
        self.diff('current', previous, current_rev(after))
        self.exit(True, after, previous=previous, activation=data)

    # state=good, state=bad

    def verdict(self, verdict):
        params = self.module.params
        before = self.cli.trees(self.name)
        row = find_tree(before, self.rev)
        if row is not None and row.get('verdict') == verdict:
            self.exit(False, before, previous=current_rev(before))
        if self.module.check_mode:
            self.diff('verdict', row.get('verdict') if row else '(not installed)', verdict)
            self.exit(True, before, previous=current_rev(before), verdict=verdict)
        args = [self.tree, verdict]
        if params['reason']:
            args += ['--reason', params['reason']]
        result = self.cli.require(self.cli.run('mark', args))
        after = self.cli.trees(self.name)
        self.diff('verdict', row.get('verdict') if row else '(not installed)', verdict)
        self.exit(True, after, previous=current_rev(before), mark=result.data)

    # state=drained

    def drained(self):
        params = self.module.params
        before = self.cli.trees(self.name, jobs=True)
        row = find_tree(before, self.rev)
        previous = current_rev(before)
        if row is None:
            self.exit(False, before, previous=previous, msg='%s is not installed: nothing runs from it' % self.tree)
        if row.get('current') and not params['include_current']:
            self.module.fail_json(msg='%s is the current revision: activate another first, or set include_current' % self.tree,
                                  current=previous, tree=row)
        if self.module.check_mode:
            jobs = row.get('jobs') or 0
            if jobs:
                self.diff('jobs', jobs, 0)
            self.exit(jobs > 0, before, previous=previous)
        args = [self.tree]
        if params['signal']:
            args += ['--signal', params['signal']]
            for step in params['then'] or []:
                args += ['--then', step]
        if params['timeout']:
            args += ['--timeout', params['timeout']]
        if params['include_current']:
            args.append('--include-current')
        result = self.cli.run('drain', args, json_lines=True)
        summary = None
        events = []
        for line in result.lines:
            if line.get('event') == 'summary':
                summary = line
            else:
                events.append(line)
        signalled = any(e.get('event') in ('signal', 'cgroup-kill') for e in events)
        if result.rc == TEMPORARY and summary is not None:
            survivors = ', '.join('pid %s (%s)' % (p.get('pid'), p.get('command')) for p in summary.get('survivors') or [])
            unknown = ', '.join('pid %s' % p.get('pid') for p in summary.get('unknown') or [] if p.get('pid'))
            why = survivors or (unknown and 'processes that cannot be inspected remain: ' + unknown) or result.message
            self.cli.fail(result, msg='%s is not drained: %s' % (self.tree, why), changed=signalled,
                          drain=summary, events=events)
        if result.rc == USAGE and "See 'trees --help'" in (result.stderr or ''):
            # argument-parser points at the top-level help when the verb itself is unknown.
            self.cli.fail(result, msg='%s has no drain verb (%s): install a trees with trees drain, '
                                      'or wait for the jobs with trees.trees.trees_wait' % (self.cli.binary, result.message))
        self.cli.require(result)
        after = self.cli.trees(self.name)
        if signalled:
            self.diff('jobs', row.get('jobs') or 0, 0)
        self.exit(signalled, after, previous=previous, drain=summary, events=events)

    # state=absent

    def absent(self):
        params = self.module.params
        before = self.cli.trees(self.name, jobs=self.module.check_mode)
        row = find_tree(before, self.rev)
        previous = current_rev(before)
        if row is None:
            self.exit(False, before, previous=previous)
        if self.module.check_mode:
            refusal = None
            if row.get('current'):
                refusal = '%s is current' % self.tree
            elif row.get('pinned'):
                refusal = '%s is pinned' % self.tree
            elif row.get('jobs') and not params['wait']:
                refusal = '%s is in use by %d processes' % (self.tree, row['jobs'])
            if refusal:
                self.module.fail_json(msg=refusal + ': trees remove would refuse (75)', tree=row)
            after = [r for r in before if r is not row]
            self.diff('installed', self.installed(before), self.installed(after))
            self.exit(True, after, previous=previous)
        args = [self.tree]
        if params['wait']:
            args.append('--wait')
            if params['timeout']:
                args += ['--timeout', params['timeout']]
        result = self.cli.run('remove', args)
        if result.rc == NOT_FOUND:
            self.exit(False, self.cli.trees(self.name), previous=previous)
        self.cli.require(result)
        after = self.cli.trees(self.name)
        self.diff('installed', self.installed(before), self.installed(after))
        self.exit(True, after, previous=previous, bytes_freed=(result.data or {}).get('bytes_freed', 0))


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        rev=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'active', 'good', 'bad', 'drained', 'absent']),
        src=dict(type='str'),
        git_ref=dict(type='str'),
        dedup=dict(type='bool', default=True),
        drain_protocol=dict(type='str'),
        check=dict(type='str'),
        within=dict(type='str'),
        force=dict(type='bool', default=False),
        reason=dict(type='str'),
        signal=dict(type='str'),
        then=dict(type='list', elements='str'),
        timeout=dict(type='str'),
        include_current=dict(type='bool', default=False),
        wait=dict(type='bool', default=False),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[('state', 'present', ['src'])],
        required_by={'within': 'check', 'then': 'signal'},
        supports_check_mode=True,
    )
    release = Release(module, TreesCLI(module))
    state = module.params['state']
    if state == 'present':
        release.present()
    elif state == 'active':
        release.active()
    elif state in ('good', 'bad'):
        release.verdict(state)
    elif state == 'drained':
        release.drained()
    else:
        release.absent()


if __name__ == '__main__':
    main()
