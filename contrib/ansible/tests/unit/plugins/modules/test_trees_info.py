# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.trees.trees.plugins.modules import trees_info

HISTORY = [
    dict(rev='r1', state='ready', current=False, installed_at='2026-12-06T20:00:00Z',
         activated_at=['2026-12-06T20:00:01Z'], verdict=dict(verdict='good', by='root', at='x', reason='ok'),
         drained_at=None, deleted_at=None, delete_reason=None,
         events=[dict(at='2026-12-06T20:00:01Z', event='activated')]),
    dict(rev='r2', state='ready', current=True, installed_at='2026-12-06T21:00:00Z',
         activated_at=['2026-12-06T21:00:01Z'], verdict=dict(verdict='unverified', by=None, at=None, reason=None),
         drained_at=None, deleted_at=None, delete_reason=None,
         events=[dict(at='2026-12-06T21:00:01Z', event='activated', previous='r1')]),
]

STATUS = [dict(name='app', current='r2', current_verdict='unverified', converged=False, jobs_on_current=1,
               others=[dict(rev='r1', state='ready', pinned=False, verdict='good', jobs=2)],
               oldest_old_job=dict(pid=42, rev='r1', command='bin/import', started_at='2026-12-06T20:30:00Z'),
               unknown_processes=0)]


def test_facts_per_name(run_module, fake_trees, row):
    fake_trees.answer('gc', [dict(name='app', rev='r1', action='kept', reason='in use by pids 42', pids=[42],
                                  bytes_freed=0),
                             dict(name='other', rev='x', action='kept', reason='current', pids=[], bytes_freed=0)])
    fake_trees.answer('list', [row('r1', verdict='good', jobs=2), row('r2', current=True, jobs=1)])
    fake_trees.answer('status', STATUS)
    fake_trees.answer('history', HISTORY)
    result = run_module(trees_info, dict(name=['app']))
    assert result['changed'] is False
    app = result['trees']['app']
    assert app['installed'] is True
    assert app['current'] == 'r2'
    assert app['previous'] == 'r1'
    assert app['last_good'] == 'r1'
    assert app['converged'] is False
    assert app['jobs_on_current'] == 1
    assert app['old_jobs'] == 2
    assert app['revisions_with_jobs'] == ['r1', 'r2']
    assert app['oldest_old_job']['pid'] == 42
    assert app['oldest_old_job']['age_seconds'] > 0
    assert [g['rev'] for g in app['gc']] == ['r1']
    assert app['gc'][0]['reason'] == 'in use by pids 42'
    assert app['history'][1]['rev'] == 'r2'
    assert ['list', 'app', '--jobs', '--json'] in fake_trees.calls
    assert ['gc', '--dry-run', '--json'] in fake_trees.calls


def test_every_name_without_gc_or_history(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('x', name='other', current=True),
                               row('old', state='deleted')], with_=[], times=1)
    fake_trees.answer('list', [row('r1', current=True, jobs=0)], with_=['app'])
    fake_trees.answer('list', [row('x', name='other', current=True, jobs=0)], with_=['other'])
    fake_trees.answer('status', [dict(STATUS[0], current='r1', converged=True, others=[], oldest_old_job=None)], with_=['app'])
    fake_trees.answer('status', [dict(STATUS[0], name='other', current='x', converged=True, others=[],
                                      oldest_old_job=None)], with_=['other'])
    fake_trees.answer('history', [])
    result = run_module(trees_info, dict(gc=False, history=False))
    assert result['names'] == ['app', 'other']
    assert result['trees']['app']['converged'] is True
    assert result['trees']['other']['current'] == 'x'
    assert result['trees']['app']['history'] is None
    assert 'gc' not in fake_trees.verbs()


def test_a_name_never_installed(run_module, fake_trees, row):
    fake_trees.answer('gc', [])
    fake_trees.answer('list', [])
    result = run_module(trees_info, dict(name=['app']))
    app = result['trees']['app']
    assert app['installed'] is False
    assert app['converged'] is False
    assert app['current'] is None


def test_gc_refused_is_reported_not_fatal(run_module, fake_trees, row):
    fake_trees.answer('gc', rc=1, stderr='trees: error: only the operator may collect trees\n')
    fake_trees.answer('list', [row('r1', current=True, jobs=0)])
    fake_trees.answer('status', [dict(STATUS[0], current='r1', converged=True, others=[], oldest_old_job=None)])
    fake_trees.answer('history', [])
    result = run_module(trees_info, dict(name=['app']))
    assert result['trees']['app']['gc'] is None
    assert result['trees']['app']['gc_error'] == 'only the operator may collect trees'


def test_bad_name_fails_with_trees_message(run_module, fake_trees):
    fake_trees.answer('gc', [])
    fake_trees.answer('list', rc=65, stderr='trees: error: invalid name "App"\n')
    result = run_module(trees_info, dict(name=['App']))
    assert result['failed'] is True
    assert result['rc'] == 65
    assert result['msg'] == 'invalid name "App"'
