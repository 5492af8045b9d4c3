# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.trees.trees.plugins.modules import trees_wait


def status(current='r2', converged=True, others=(), oldest=None, unknown=0):
    return [dict(name='app', current=current, current_verdict='good', converged=converged, jobs_on_current=0,
                 others=list(others), oldest_old_job=oldest, unknown_processes=unknown)]


def test_drained(run_module, fake_trees):
    fake_trees.answer('wait', '')
    result = run_module(trees_wait, dict(name='app', rev='r1', timeout='2h'))
    assert result['changed'] is False
    assert result['msg'] == 'app@r1 is drained'
    assert fake_trees.calls == [['wait', 'app@r1', '--timeout', '2h']]


def test_drained_timeout_names_who_is_still_there(run_module, fake_trees):
    fake_trees.answer('wait', rc=75, stderr='trees: timed out waiting for app@r1; still running from it:\n'
                                            '  pid 42 (cwd): bin/import\n')
    result = run_module(trees_wait, dict(name='app', rev='r1', timeout='1s'))
    assert result['failed'] is True
    assert result['rc'] == 75
    assert result['msg'] == 'timed out waiting for app@r1; still running from it: pid 42 (cwd): bin/import'


def test_drained_needs_rev(run_module, fake_trees):
    result = run_module(trees_wait, dict(name='app'))
    assert result['failed'] is True
    assert fake_trees.calls == []


def test_converged_at_once(run_module, fake_trees):
    fake_trees.answer('status', status())
    result = run_module(trees_wait, dict(name='app', rev='r2', until='converged'))
    assert result['msg'] == 'app has converged on r2'
    assert fake_trees.calls == [['status', 'app', '--json']]


def test_converged_after_polling(run_module, fake_trees):
    fake_trees.answer('status', status(converged=False, others=[dict(rev='r1', jobs=1)]), times=1)
    fake_trees.answer('status', status())
    result = run_module(trees_wait, dict(name='app', until='converged', poll=1, timeout='30s'))
    assert result['status']['converged'] is True
    assert fake_trees.verbs() == ['status', 'status']


def test_converged_on_another_rev_is_not_enough(run_module, fake_trees):
    fake_trees.answer('status', status(current='r1', converged=True))
    result = run_module(trees_wait, dict(name='app', rev='r2', until='converged', poll=1, timeout='1'))
    assert result['failed'] is True
    assert result['rc'] == 75
    assert 'current is r1, not r2' in result['msg']


def test_not_converged_lists_jobs_and_oldest(run_module, fake_trees):
    oldest = dict(pid=42, rev='r1', command='bin/import', started_at='2026-12-06T20:00:00Z')
    fake_trees.answer('status', status(converged=False, others=[dict(rev='r1', jobs=1)], oldest=oldest, unknown=1))
    result = run_module(trees_wait, dict(name='app', until='converged', poll=1, timeout='0'))
    assert result['failed'] is True
    assert '1 jobs on r1' in result['msg']
    assert '1 processes cannot be inspected' in result['msg']
    assert 'oldest: pid 42 on r1' in result['msg']


def test_no_trees_at_all(run_module, fake_trees):
    fake_trees.answer('status', rc=66, stderr='trees: error: no trees of app under /srv/trees\n')
    result = run_module(trees_wait, dict(name='app', until='converged', timeout='0'))
    assert result['failed'] is True
    assert 'no trees installed' in result['msg']


def test_bad_timeout(run_module, fake_trees):
    result = run_module(trees_wait, dict(name='app', rev='r1', timeout='soon'))
    assert result['failed'] is True
    assert 'DURATION' in result['msg']
