# -*- coding: utf-8 -*-
# Copyright: contributors to trees
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one runner of the trees command line for the trees.trees modules.

Every module calls trees through here: it builds the argument vector, runs
it, parses the JSON the verb prints with --json (one document, or one JSON
object per line for streaming verbs such as drain), and maps trees'
documented exit statuses (0 ok, 1 failure, 64 usage, 65 bad input or bad
release, 66 not found, 75 temporary / in use / timed out) to what a module
reports.  Only Python's standard library is used on the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import re

# The exit statuses of trees(1), EXIT STATUS.
OK = 0
FAILURE = 1
USAGE = 64
BAD_INPUT = 65
NOT_FOUND = 66
TEMPORARY = 75

STATUS_MEANINGS = {
    OK: 'ok',
    FAILURE: 'failure',
    USAGE: 'usage',
    BAD_INPUT: 'bad input',
    NOT_FOUND: 'not found',
    TEMPORARY: 'temporary',
}

# The options every module takes (doc fragment trees.trees.cli).
COMMON_ARGUMENT_SPEC = dict(
    root=dict(type='path'),
    binary=dict(type='path'),
    lock_timeout=dict(type='int'),
)

_DURATION = re.compile(r'^([0-9]+)([smhd]?)$')
_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


def parse_duration(text):
    """Seconds in a trees DURATION: 90, 30s, 5m, 2h, 1d; None when it is not one."""
    if text is None:
        return None
    match = _DURATION.match(str(text).strip())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text):
    """A datetime (UTC) from trees' RFC 3339 times, or None."""
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)
    except ValueError:
        return None


class _UTC(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return 'UTC'

    def dst(self, dt):
        return datetime.timedelta(0)


UTC = _UTC()


def now():
    return datetime.datetime.now(UTC)


def tree_of(name, rev):
    return '%s@%s' % (name, rev)


def error_lines(stderr):
    """trees' own error and hint lines (`trees: error: ...`), without the prefix."""
    lines = []
    for line in (stderr or '').splitlines():
        line = line.strip()
        if line.startswith('trees: '):
            lines.append(line[len('trees: '):])
        elif line:
            lines.append(line)
    return lines


class TreesResult:
    """One run of trees: its argv, exit status, output and parsed JSON."""

    def __init__(self, argv, rc, stdout, stderr, data=None, lines=None):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.data = data
        self.lines = lines or []

    @property
    def ok(self):
        return self.rc == OK

    @property
    def meaning(self):
        return STATUS_MEANINGS.get(self.rc, 'failure')

    @property
    def message(self):
        """What trees said went wrong, in one line (its `error:` line first)."""
        lines = error_lines(self.stderr)
        errors = [line[len('error: '):] for line in lines if line.lower().startswith('error: ')]
        if errors:
            return errors[0]
        if lines:
            return lines[-1]
        return 'trees exited with status %d (%s)' % (self.rc, self.meaning)

    @property
    def hints(self):
        return [line[len('hint: '):] for line in error_lines(self.stderr) if line.startswith('hint: ')]

    def report(self):
        """The fields every failed or informative result carries."""
        return dict(cmd=self.argv, rc=self.rc, exit_status=self.meaning,
                    stdout=self.stdout, stderr=self.stderr)


class TreesCLI:
    """Runs trees for a module: `trees [--root ROOT] VERB ARGS... [--json]`."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.root = params.get('root')
        binary = params.get('binary')
        if binary:
            self.binary = binary
        else:
            self.binary = module.get_bin_path('trees', required=True)
        self.environ = {}
        if params.get('lock_timeout') is not None:
            self.environ['TREES_LOCK_TIMEOUT'] = str(params['lock_timeout'])

    def argv(self, verb, args=(), json_output=True):
        argv = [self.binary]
        if self.root:
            argv += ['--root', self.root]
        argv += list(verb if isinstance(verb, (list, tuple)) else [verb])
        argv += [str(a) for a in args]
        if json_output:
            argv.append('--json')
        return argv

    def run(self, verb, args=(), json_output=True, json_lines=False):
        """Runs one verb; never fails the module itself (callers decide)."""
        argv = self.argv(verb, args, json_output=json_output)
        rc, stdout, stderr = self.module.run_command(argv, environ_update=self.environ)
        data = None
        lines = []
        if json_output and stdout.strip():
            if json_lines:
                for line in stdout.splitlines():
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        lines.append(json.loads(line))
                    except ValueError:
                        continue
                data = lines[-1] if lines else None
            else:
                try:
                    data = json.loads(stdout)
                except ValueError:
                    if rc == OK:
                        self.module.fail_json(msg='trees printed output that is not JSON', cmd=argv,
                                              rc=rc, stdout=stdout, stderr=stderr)
        return TreesResult(argv, rc, stdout, stderr, data=data, lines=lines)

    def fail(self, result, msg=None, **extra):
        """Fails the module with trees' message, exit status and output."""
        fields = result.report()
        fields.update(extra)
        if result.hints:
            fields.setdefault('hints', result.hints)
        self.module.fail_json(msg=msg or result.message, **fields)

    def require(self, result, allowed=(OK,)):
        """Returns result when its exit status is allowed, else fails the module."""
        if result.rc not in allowed:
            self.fail(result)
        return result

    # Read verbs, shared by the modules.

    def trees(self, name, jobs=False):
        """`trees list NAME --json [--jobs]`: every installed tree of NAME."""
        result = self.require(self.run('list', [name] + (['--jobs'] if jobs else [])))
        return [row for row in (result.data or []) if row.get('state') != 'deleted']

    def status(self, name):
        """`trees status NAME --json`: the name's row, or None when it has no trees (66)."""
        result = self.require(self.run('status', [name]), allowed=(OK, NOT_FOUND))
        if result.rc == NOT_FOUND:
            return None
        for row in result.data or []:
            if row.get('name') == name:
                return row
        return None

    def gc_plan(self, name=None):
        """`trees gc --dry-run --json`: what gc would delete and keep, and why.

        Returns (rows, None) or (None, message) when gc may not run here
        (not the operator, another gc holding its lock)."""
        result = self.run('gc', ['--dry-run'])
        if not result.ok:
            return None, result.message
        rows = result.data or []
        if name is not None:
            rows = [row for row in rows if row.get('name') == name]
        return rows, None

    def history(self, name):
        """`trees history NAME --json`: each release's life, oldest install first."""
        result = self.require(self.run('history', [name]), allowed=(OK, NOT_FOUND))
        if result.rc == NOT_FOUND:
            return []
        return result.data or []


def find_tree(rows, rev):
    """The installed tree REV among `list` rows, or None."""
    for row in rows:
        if row.get('rev') == rev and row.get('state') != 'deleted':
            return row
    return None


def current_rev(rows):
    for row in rows:
        if row.get('current'):
            return row.get('rev')
    return None


def previous_rev(history, current):
    """The revision current before the present one, from the history's events."""
    if not current:
        return None
    latest = None
    for row in history:
        if row.get('rev') != current:
            continue
        for event in row.get('events') or []:
            if event.get('event') in ('activated', 'rolled-back') and event.get('previous'):
                if latest is None or event.get('at', '') >= latest.get('at', ''):
                    latest = event
    return latest.get('previous') if latest else None


def last_good_rev(history):
    """The good, still installed revision most recently current (rollback --to last-good)."""
    best = None
    best_at = ''
    for row in history:
        verdict = (row.get('verdict') or {}).get('verdict')
        if verdict != 'good' or row.get('state') == 'deleted':
            continue
        at = max(row.get('activated_at') or [''])
        if best is None or at >= best_at:
            best, best_at = row.get('rev'), at
    return best


def gc_lines(rows):
    """gc's plan as a person reads it, for diff mode."""
    if rows is None:
        return []
    words = {'would-delete': 'would be deleted', 'kept': 'kept', 'deleted': 'deleted'}
    return ['%s@%s: %s (%s)' % (row.get('name'), row.get('rev'), words.get(row.get('action'), row.get('action')),
                                row.get('reason')) for row in rows]
