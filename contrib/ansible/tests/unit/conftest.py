# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the module tests: a fake trees binary and a way to run a module.

The fake is a small script put on disk for each test.  It answers each call from
a list of canned responses (stdout, stderr, exit status), chosen by the verb and
by words the argument vector must hold, and records every argument vector, so a
test says what trees answers and checks what the module asked.  The module runs
for real: AnsibleModule.run_command starts the fake as a process.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

FAKE = r'''#!%(python)s
import json, sys
here = %(dir)r
argv = sys.argv[1:]
with open(here + '/calls.jsonl', 'a') as f:
    f.write(json.dumps(argv) + '\n')
words = list(argv)
if words[:1] == ['--root']:
    words = words[2:]
verb = words[0] if words else ''
with open(here + '/responses.json') as f:
    responses = json.load(f)
for i, r in enumerate(responses):
    if r['verb'] != verb or not all(w in argv for w in r.get('with', [])):
        continue
    if r.get('times') == 0:
        continue
    if r.get('times') is not None:
        r['times'] -= 1
        with open(here + '/responses.json', 'w') as f:
            json.dump(responses, f)
    out = r.get('stdout', '')
    if not isinstance(out, str):
        out = json.dumps(out, indent=2)
    sys.stdout.write(out)
    sys.stderr.write(r.get('stderr', ''))
    sys.exit(r.get('rc', 0))
sys.stderr.write('trees: error: the fake has no answer for %%r\n' %% (argv,))
sys.exit(99)
'''


class FakeTrees:
    def __init__(self, directory):
        self.dir = str(directory)
        self.path = os.path.join(self.dir, 'trees')
        self.responses = []
        with open(self.path, 'w') as f:
            f.write(FAKE % dict(python=sys.executable, dir=self.dir))
        os.chmod(self.path, stat.S_IRWXU)
        self._save()

    def _save(self):
        with open(os.path.join(self.dir, 'responses.json'), 'w') as f:
            json.dump(self.responses, f)

    def answer(self, verb, stdout='', rc=0, stderr='', with_=(), times=None):
        """Adds a response; earlier ones win, `times` limits how often one is given."""
        self.responses.append(dict(verb=verb, stdout=stdout, rc=rc, stderr=stderr, times=times, **{'with': list(with_)}))
        self._save()
        return self

    @property
    def calls(self):
        path = os.path.join(self.dir, 'calls.jsonl')
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def verbs(self):
        """The verb of each call, in order."""
        out = []
        for argv in self.calls:
            words = argv[2:] if argv[:1] == ['--root'] else argv
            out.append(words[0])
        return out


class ModuleExit(Exception):
    def __init__(self, result):
        super(ModuleExit, self).__init__(result)
        self.result = result


@pytest.fixture
def fake_trees(tmp_path):
    return FakeTrees(tmp_path)


@pytest.fixture
def run_module(monkeypatch, fake_trees):
    """run_module(module, args, check_mode=False, diff=False) -> the result dict (failed=True on failure)."""

    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        raise ModuleExit(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs['failed'] = True
        kwargs['msg'] = msg
        raise ModuleExit(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)

    def run(module, args, check_mode=False, diff=False):
        args = dict(args)
        args.setdefault('binary', fake_trees.path)
        args['_ansible_check_mode'] = check_mode
        args['_ansible_diff'] = diff
        args['_ansible_remote_tmp'] = '/tmp'
        args['_ansible_keep_remote_files'] = False
        monkeypatch.setattr(basic, '_ANSIBLE_ARGS', to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args})))
        with pytest.raises(ModuleExit) as caught:
            module.main()
        return caught.value.result

    return run


def tree(rev, current=False, verdict='unverified', jobs=None, pinned=False, name='app', state='ready'):
    """One row of `trees list --json`."""
    row = dict(name=name, rev=rev, path='/srv/trees/%s/%s' % (name, rev), state=state, current=current,
               pinned=pinned, verdict=verdict, installed_at='2026-12-06T20:00:00Z', bytes=2, files=1,
               digest='sha256:' + rev, leases=0)
    if jobs is not None:
        row['jobs'] = jobs
    return row


@pytest.fixture
def row():
    """row(rev, ...) -> one row of `trees list --json`."""
    return tree
