# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.trees.trees.plugins.modules import trees_release

ARGS = dict(name='app', rev='r2')


def gc_plan(*rows):
    return [dict(name='app', rev=rev, action=action, reason=reason, pids=[], bytes_freed=0) for rev, action, reason in rows]


# state=present

def test_present_installs_and_is_changed(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True)], times=1)
    fake_trees.answer('install', '/srv/trees/app/r2\n')
    fake_trees.answer('list', [row('r1', current=True), row('r2')])
    result = run_module(trees_release, dict(ARGS, src='/build/r2', drain_protocol='TSTP,TERM@2h'))
    assert result['changed'] is True
    assert result['tree']['rev'] == 'r2'
    assert result['current'] == 'r1'
    assert fake_trees.verbs() == ['list', 'install', 'list']
    assert fake_trees.calls[1] == ['install', 'app@r2', '/build/r2', '--drain', 'TSTP,TERM@2h']
    assert fake_trees.calls[0] == ['list', 'app', '--json']


def test_present_reinstall_of_identical_content_is_not_changed(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2')])
    fake_trees.answer('install', '/srv/trees/app/r2\n')
    result = run_module(trees_release, dict(ARGS, src='/build/r2', root='/tmp/root', dedup=False))
    assert result['changed'] is False
    # trees' own re-install check still runs: different content would fail.
    assert fake_trees.calls[1] == ['--root', '/tmp/root', 'install', 'app@r2', '/build/r2', '--no-dedup']


def test_present_conflicting_content_fails_with_trees_message(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2')])
    fake_trees.answer('install', rc=65, stderr='trees: error: app@r2 is installed with other content\n')
    result = run_module(trees_release, dict(ARGS, src='/build/other'))
    assert result['failed'] is True
    assert result['rc'] == 65
    assert result['exit_status'] == 'bad input'
    assert result['msg'] == 'app@r2 is installed with other content'


def test_present_from_git(run_module, fake_trees, row):
    fake_trees.answer('list', [], times=1)
    fake_trees.answer('install', '/srv/trees/app/r2\n')
    fake_trees.answer('list', [row('r2')])
    result = run_module(trees_release, dict(ARGS, src='https://git.example/app.git', git_ref='v2'))
    assert result['changed'] is True
    assert fake_trees.calls[1] == ['install', 'app@r2', 'https://git.example/app.git', '--git-ref', 'v2']


def test_present_check_mode_runs_no_install(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True)])
    result = run_module(trees_release, dict(ARGS, src='/build/r2'), check_mode=True, diff=True)
    assert result['changed'] is True
    assert 'install' not in fake_trees.verbs()
    assert result['diff'][0]['before'] == 'installed: r1\n'
    assert result['diff'][0]['after'] == 'installed: r1, r2\n'


def test_present_needs_src(run_module, fake_trees):
    result = run_module(trees_release, dict(ARGS))
    assert result['failed'] is True
    assert 'src' in result['msg']
    assert fake_trees.calls == []


# state=active

def test_active_switches_current(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2')], times=1)
    fake_trees.answer('activate', dict(tree='app@r2', path='/srv/trees/app/r2', previous='r1', current='app@r2',
                                       verdict='good', check=dict(command='bin/check', result='passed', reason=None),
                                       returned_to=None))
    fake_trees.answer('list', [row('r1'), row('r2', current=True, verdict='good')])
    fake_trees.answer('gc', gc_plan(('r1', 'kept', 'too young'), ('r2', 'kept', 'current')))
    result = run_module(trees_release, dict(ARGS, state='active', check='bin/check', within='5m'), diff=True)
    assert result['changed'] is True
    assert result['current'] == 'r2'
    assert result['previous'] == 'r1'
    assert result['verdict'] == 'good'
    assert fake_trees.calls[1] == ['activate', 'app@r2', '--check', 'bin/check', '--within', '5m', '--json']
    assert result['diff'][0]['before'] == 'current: r1\n'
    assert result['diff'][0]['after'] == 'current: r2\n'
    assert 'app@r1: kept (too young)' in result['diff'][1]['prepared']
    assert result['gc'][0]['reason'] == 'too young'


def test_active_already_current_runs_nothing(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1'), row('r2', current=True)])
    result = run_module(trees_release, dict(ARGS, state='active', check='bin/check'))
    assert result['changed'] is False
    assert fake_trees.verbs() == ['list']


def test_active_failed_check_fails_with_where_current_returned(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True, verdict='good'), row('r2')], times=1)
    fake_trees.answer('activate', rc=65, stdout=dict(
        tree='app@r2', path='/srv/trees/app/r2', previous='r1', current='app@r1', verdict='bad',
        check=dict(command='exit 3', result='failed', reason='exited with status 3'), returned_to='app@r1'),
        stderr='trees: error: the check of app@r2 failed (exited with status 3); it is marked bad and current is back at app@r1\n'
               'trees: hint: See the check\'s output above.\n')
    fake_trees.answer('list', [row('r1', current=True, verdict='good'), row('r2', verdict='bad')])
    result = run_module(trees_release, dict(ARGS, state='active', check='exit 3'))
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['rc'] == 65
    assert result['returned_to'] == 'app@r1'
    assert result['current'] == 'r1'
    assert result['verdict'] == 'bad'
    assert result['activation']['check']['reason'] == 'exited with status 3'
    assert result['msg'].startswith('the check of app@r2 failed')
    assert result['hints'] == ["See the check's output above."]


def test_active_bad_release_refused_without_force(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2', verdict='bad')])
    fake_trees.answer('activate', rc=65, stderr='trees: error: app@r2 is marked bad\n')
    result = run_module(trees_release, dict(ARGS, state='active'))
    assert result['failed'] is True
    assert result.get('changed', False) is False
    assert result['msg'] == 'app@r2 is marked bad'


def test_active_force(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2', verdict='bad')], times=1)
    fake_trees.answer('activate', dict(tree='app@r2', path='/p', previous='r1', current='app@r2', verdict='bad',
                                       check=None, returned_to=None))
    fake_trees.answer('list', [row('r1'), row('r2', current=True, verdict='bad')])
    result = run_module(trees_release, dict(ARGS, state='active', force=True))
    assert result['changed'] is True
    assert fake_trees.calls[1] == ['activate', 'app@r2', '--force', '--json']


def test_active_check_mode_and_diff(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2')])
    fake_trees.answer('gc', gc_plan(('r0', 'would-delete', 'unused')))
    result = run_module(trees_release, dict(ARGS, state='active', check='bin/check'), check_mode=True, diff=True)
    assert result['changed'] is True
    assert 'activate' not in fake_trees.verbs()
    assert fake_trees.calls[-1] == ['gc', '--dry-run', '--json']
    assert result['diff'][0]['before'] == 'current: r1\n' and result['diff'][0]['after'] == 'current: r2\n'
    assert 'app@r0: would be deleted (unused)' in result['diff'][1]['prepared']


def test_diff_says_when_gc_may_not_run(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True), row('r2')])
    fake_trees.answer('gc', rc=1, stderr='trees: error: only the operator may collect trees\n')
    result = run_module(trees_release, dict(ARGS, state='active'), check_mode=True, diff=True)
    assert 'only the operator may collect trees' in result['diff'][1]['prepared']


def test_within_needs_check(run_module, fake_trees):
    result = run_module(trees_release, dict(ARGS, state='active', within='5m'))
    assert result['failed'] is True
    assert fake_trees.calls == []


# state=good, state=bad

def test_mark_good(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2', current=True)], times=1)
    fake_trees.answer('mark', dict(tree='app@r2', verdict='good', by='root', at='2026-12-06T23:00:00Z', reason='a week'))
    fake_trees.answer('list', [row('r2', current=True, verdict='good')])
    result = run_module(trees_release, dict(ARGS, state='good', reason='a week'), diff=True)
    assert result['changed'] is True
    assert result['verdict'] == 'good'
    assert result['mark']['by'] == 'root'
    assert fake_trees.calls[1] == ['mark', 'app@r2', 'good', '--reason', 'a week', '--json']
    assert result['diff'][0]['before'] == 'verdict: unverified\n'


def test_mark_same_verdict_is_not_changed(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2', verdict='bad')])
    result = run_module(trees_release, dict(ARGS, state='bad'))
    assert result['changed'] is False
    assert fake_trees.verbs() == ['list']


def test_mark_not_installed(run_module, fake_trees, row):
    fake_trees.answer('list', [])
    fake_trees.answer('mark', rc=66, stderr='trees: error: no tree app@r2\n')
    result = run_module(trees_release, dict(ARGS, state='bad'))
    assert result['failed'] is True
    assert result['exit_status'] == 'not found'


def test_mark_check_mode(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2')])
    result = run_module(trees_release, dict(ARGS, state='bad'), check_mode=True)
    assert result['changed'] is True
    assert fake_trees.verbs() == ['list']


# state=drained

def drain_lines(*events):
    return ''.join(json.dumps(e) + '\n' for e in events)


SUMMARY = dict(event='summary', tree=dict(name='app', rev='r1'), drained=True, protocol='TERM', started_at='t',
               finished_at='t', steps_sent=1, survivors=[], unknown=[], kernel_holds=[])


def test_drain_by_the_release_protocol(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=1), row('r2', current=True, jobs=0)], times=1)
    fake_trees.answer('drain', drain_lines(
        dict(event='began', tree=dict(name='app', rev='r1'), protocol='TERM', resumed=False, started_at='t'),
        dict(event='signal', tree=dict(name='app', rev='r1'), pid=42, signal='TERM', evidence=['lease'], at='t'),
        dict(event='exited', tree=dict(name='app', rev='r1'), pid=42, at='t'),
        SUMMARY))
    fake_trees.answer('list', [row('r1'), row('r2', current=True)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained', timeout='1h'))
    assert result['changed'] is True
    assert result['drain']['drained'] is True
    assert [e['event'] for e in result['events']] == ['began', 'signal', 'exited']
    assert fake_trees.calls[0] == ['list', 'app', '--jobs', '--json']
    assert fake_trees.calls[1] == ['drain', 'app@r1', '--timeout', '1h', '--json']


def test_drain_with_given_signals(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=0), row('r2', current=True, jobs=0)])
    fake_trees.answer('drain', drain_lines(SUMMARY))
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained', signal='TSTP',
                                            then=['TERM@2h', 'KILL@+60s']))
    # Nothing ran from it: nothing was signalled, nothing changed.
    assert result['changed'] is False
    assert fake_trees.calls[1] == ['drain', 'app@r1', '--signal', 'TSTP', '--then', 'TERM@2h', '--then', 'KILL@+60s', '--json']


def test_drain_timeout_fails_naming_survivors(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=1), row('r2', current=True)])
    summary = dict(SUMMARY, drained=False, survivors=[dict(pid=42, evidence=['cwd'], command='bin/import')])
    fake_trees.answer('drain', rc=75, stdout=drain_lines(
        dict(event='signal', tree=dict(name='app', rev='r1'), pid=42, signal='TERM', evidence=['cwd'], at='t'), summary))
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained', timeout='1s'))
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['rc'] == 75
    assert result['msg'] == 'app@r1 is not drained: pid 42 (bin/import)'
    assert result['drain']['survivors'][0]['pid'] == 42


def test_drain_refuses_the_current_revision(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', current=True, jobs=3)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained'))
    assert result['failed'] is True
    assert 'current' in result['msg']
    assert 'drain' not in fake_trees.verbs()


def test_drain_of_a_tree_not_installed_is_ok(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2', current=True, jobs=0)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained'))
    assert result['changed'] is False
    assert fake_trees.verbs() == ['list']


def test_drain_check_mode(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=2), row('r2', current=True, jobs=0)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained'), check_mode=True, diff=True)
    assert result['changed'] is True
    assert 'drain' not in fake_trees.verbs()
    assert result['diff'][0]['before'] == 'jobs: 2\n'


# state=absent

def test_absent_removes(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1'), row('r2', current=True)], times=1)
    fake_trees.answer('remove', dict(removed='app@r1', bytes_freed=2048))
    fake_trees.answer('list', [row('r2', current=True)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='absent', wait=True, timeout='10m'))
    assert result['changed'] is True
    assert result['bytes_freed'] == 2048
    assert fake_trees.calls[1] == ['remove', 'app@r1', '--wait', '--timeout', '10m', '--json']


def test_absent_never_removes_what_is_in_use(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1'), row('r2', current=True)])
    fake_trees.answer('remove', rc=75, stderr='trees: error: app@r1 is in use by pid 42 (cwd): bin/import\n')
    result = run_module(trees_release, dict(name='app', rev='r1', state='absent'))
    assert result['failed'] is True
    assert result['rc'] == 75
    assert result['exit_status'] == 'temporary'
    assert result['msg'] == 'app@r1 is in use by pid 42 (cwd): bin/import'


def test_absent_when_already_gone(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r2', current=True)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='absent'))
    assert result['changed'] is False
    assert fake_trees.verbs() == ['list']


def test_absent_check_mode_predicts_refusal(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=1), row('r2', current=True, jobs=0)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='absent'), check_mode=True)
    assert result['failed'] is True
    assert 'in use by 1 processes' in result['msg']
    assert 'remove' not in fake_trees.verbs()


def test_absent_check_mode(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=0), row('r2', current=True, jobs=0)])
    result = run_module(trees_release, dict(name='app', rev='r1', state='absent'), check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['diff'][0]['after'] == 'installed: r2\n'
    assert 'remove' not in fake_trees.verbs()


def test_lock_timeout_and_unexpected_failure(run_module, fake_trees, row):
    fake_trees.answer('list', rc=1, stderr='trees: error: the state database is damaged\n')
    result = run_module(trees_release, dict(ARGS, state='active', lock_timeout=5))
    assert result['failed'] is True
    assert result['exit_status'] == 'failure'
    assert result['msg'] == 'the state database is damaged'


def test_drain_with_a_trees_that_has_no_drain_verb(run_module, fake_trees, row):
    fake_trees.answer('list', [row('r1', jobs=1), row('r2', current=True, jobs=0)])
    fake_trees.answer('drain', rc=64, stderr="Error: Unknown option '--json'. Did you mean '--root'?\n"
                                             "Usage: trees [--root <DIR>] <subcommand>\n  See 'trees --help' for more information.\n")
    result = run_module(trees_release, dict(name='app', rev='r1', state='drained'))
    assert result['failed'] is True
    assert result['rc'] == 64
    assert 'has no drain verb' in result['msg']
    assert 'trees_wait' in result['msg']
