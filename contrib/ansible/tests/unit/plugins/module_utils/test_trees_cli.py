# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.trees.trees.plugins.module_utils import trees_cli


@pytest.mark.parametrize('text, seconds', [('90', 90), ('30s', 30), ('5m', 300), ('2h', 7200), ('1d', 86400),
                                           ('0', 0), ('5x', None), ('', None), ('-1', None), (None, None)])
def test_parse_duration(text, seconds):
    assert trees_cli.parse_duration(text) == seconds


def test_result_message_prefers_the_error_line():
    result = trees_cli.TreesResult(['trees'], 75, '', 'trees: warning: w\ntrees: error: busy\ntrees: hint: later\n')
    assert result.message == 'busy'
    assert result.hints == ['later']
    assert result.meaning == 'temporary'


def test_result_message_without_trees_lines():
    assert trees_cli.TreesResult(['trees'], 64, '', '').message == 'trees exited with status 64 (usage)'
    assert trees_cli.TreesResult(['trees'], 3, '', 'something odd\n').message == 'something odd'


def test_previous_is_the_latest_move_to_current():
    history = [dict(rev='r3', events=[dict(at='2026-01-01T00:00:00Z', event='activated', previous='r1'),
                                      dict(at='2026-01-02T00:00:00Z', event='rolled-back', previous='r4')])]
    assert trees_cli.previous_rev(history, 'r3') == 'r4'
    assert trees_cli.previous_rev(history, None) is None


def test_last_good_skips_deleted_and_bad():
    history = [dict(rev='r1', state='ready', verdict=dict(verdict='good'), activated_at=['2026-01-01T00:00:00Z']),
               dict(rev='r2', state='deleted', verdict=dict(verdict='good'), activated_at=['2026-01-03T00:00:00Z']),
               dict(rev='r3', state='ready', verdict=dict(verdict='bad'), activated_at=['2026-01-04T00:00:00Z'])]
    assert trees_cli.last_good_rev(history) == 'r1'


def test_gc_lines():
    rows = [dict(name='app', rev='r1', action='would-delete', reason='unused'),
            dict(name='app', rev='r2', action='kept', reason='current')]
    assert trees_cli.gc_lines(rows) == ['app@r1: would be deleted (unused)', 'app@r2: kept (current)']


def test_usage_errors_of_argument_parser():
    stderr = "Error: Unknown option '--json'\nUsage: trees remove <tree>\n  See 'trees remove --help' for more information.\n"
    assert trees_cli.TreesResult(['trees'], 64, '', stderr).message == "Unknown option '--json'"
