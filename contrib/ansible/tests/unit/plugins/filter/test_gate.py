# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.trees.trees.plugins.filter.gate import FilterModule

gate = FilterModule().filters()['rollout_gate']


def info(current, jobs=None, age=None, installed=True):
    jobs = jobs or {}
    trees = [dict(rev=rev, jobs=n) for rev, n in jobs.items()]
    if current and current not in jobs:
        trees.append(dict(rev=current, jobs=0))
    oldest = dict(pid=42, rev='r1', age_seconds=age) if age is not None else None
    return dict(trees=dict(app=dict(installed=installed, current=current, trees=trees,
                                    revisions_with_jobs=[r for r, n in jobs.items() if n], oldest_old_job=oldest)))


def test_complete_when_every_host_is_current_on_one_rev_and_no_old_job():
    hostvars = {'a': dict(trees_gate=info('r2', {'r2': 3})), 'b': dict(trees_gate=info('r2'))}
    answer = gate(['a', 'b'], hostvars, 'app', 'r2')
    assert answer['complete'] is True
    assert answer['summary'] == 'rollout of app complete: all 2 hosts current on r2, no job on another revision'


def test_a_job_on_the_old_rev_blocks():
    hostvars = {'a': dict(trees_gate=info('r2', {'r1': 1}, age=7200)), 'b': dict(trees_gate=info('r2', {'r1': 2}, age=60)),
                'c': dict(trees_gate=info('r2'))}
    answer = gate(['a', 'b', 'c'], hostvars, 'app', 'r2')
    assert answer['complete'] is False
    assert [b['host'] for b in answer['blocking']] == ['a', 'b']  # oldest job first
    assert answer['blocking'][0]['reason'] == '1 jobs on r1'


def test_hosts_on_two_revisions_block_even_without_a_target():
    hostvars = {'a': dict(trees_gate=info('r2')), 'b': dict(trees_gate=info('r1'))}
    answer = gate(['a', 'b'], hostvars, 'app')
    assert answer['complete'] is False
    assert answer['revisions'] == {'r1': ['b'], 'r2': ['a']}


def test_one_revision_without_a_target():
    hostvars = {'a': dict(trees_gate=info('r2')), 'b': dict(trees_gate=info('r2'))}
    assert gate(['a', 'b'], hostvars, 'app')['complete'] is True


def test_wrong_revision_blocks():
    hostvars = {'a': dict(trees_gate=info('r1'))}
    answer = gate(['a'], hostvars, 'app', 'r2')
    assert answer['complete'] is False
    assert answer['blocking'][0]['reason'] == 'current is r1'


def test_a_host_without_an_answer_blocks():
    hostvars = {'a': dict(trees_gate=info('r2')), 'b': dict(), 'c': dict(trees_gate=dict(failed=True, msg='x'))}
    answer = gate(['a', 'b', 'c'], hostvars, 'app', 'r2')
    assert answer['complete'] is False
    assert sorted(b['host'] for b in answer['blocking']) == ['b', 'c']


def test_a_host_that_never_installed_blocks():
    hostvars = {'a': dict(trees_gate=info(None, installed=False))}
    answer = gate(['a'], hostvars, 'app', 'r2')
    assert answer['blocking'][0]['reason'] == 'no trees of app installed'


def test_a_host_with_trees_but_no_current_blocks():
    hostvars = {'a': dict(trees_gate=info(None, {'r1': 0}))}
    answer = gate(['a'], hostvars, 'app', 'r2')
    assert answer['blocking'][0]['reason'] == 'no current revision of app'
