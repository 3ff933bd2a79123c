# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which variables an evaluation of Kubespray can read: the exact basis of host classes.

Evaluating Kubespray's ``downloads`` for a host reads only the variables its templates reach,
directly or through the templates of the variables they name (Kubespray's defaults, the
inventory's values). Two hosts that agree on every such variable (and on their groups and
platform) get the same result, so one evaluation serves both. This module finds that set by
parsing the templates (Jinja's own parser), following every name through its definitions:

- ``x``, ``x.y``, ``x['y']``: the variable ``x``;
- ``ansible_facts['k']`` / ``ansible_facts.k`` with a constant key: only that fact, so that cached
  facts that differ in unrelated keys (uptime, addresses) do not split a class; any other use of
  ``ansible_facts``: every fact;
- ``lookup('vars', 'prefix_' ~ x ~ '_suffix')``: every variable whose name matches the pattern
  (and ``x``);
- ``vars``, or anything the parser cannot read: every variable (the host is then in a class of its
  own unless all its variables equal another's: still exact, only slower).

Over-approximating is always safe: a variable named but never used only splits classes.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

_ENV = Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])
_VARS_LOOKUPS = ('vars', 'ansible.builtin.vars')
EVERYTHING = '*'


class Refs(object):
    """What one template reads."""
    __slots__ = ('names', 'facts', 'patterns')

    def __init__(self):
        self.names = set()      # variable names (EVERYTHING: all of them)
        self.facts = set()      # ansible_facts keys (EVERYTHING: all of them)
        self.patterns = set()   # regexes of variable names read through lookup('vars', ...)

    def update(self, other):
        self.names |= other.names
        self.facts |= other.facts
        self.patterns |= other.patterns


def _pattern(node):
    """A regex matching every string the expression can produce."""
    if isinstance(node, nodes.Const):
        return re.escape(str(node.value))
    if isinstance(node, (nodes.Add, nodes.Concat)):
        parts = [node.left, node.right] if isinstance(node, nodes.Add) else node.nodes
        return ''.join(_pattern(p) for p in parts)
    return '.*'


def _const_key(node):
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _walk(node, refs, parent=None):
    if isinstance(node, nodes.Name) and node.ctx == 'load':
        if node.name == 'vars':
            refs.names.add(EVERYTHING)
        elif node.name == 'ansible_facts':
            key = _const_key(parent) if parent is not None and getattr(parent, 'node', None) is node else None
            refs.facts.add(key if key else EVERYTHING)
            refs.names.add('ansible_facts')
        else:
            refs.names.add(node.name)
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in ('lookup', 'query', 'q'):
        args = node.args
        if args and isinstance(args[0], nodes.Const) and args[0].value in _VARS_LOOKUPS:
            for arg in args[1:]:
                refs.patterns.add('^%s$' % _pattern(arg))
    for child in node.iter_child_nodes():
        _walk(child, refs, node)


class References(object):
    """Parses templates (memoized) and closes a set of names over their definitions."""

    def __init__(self):
        self._memo = {}
        self._values = {}

    def of_template(self, text):
        refs = self._memo.get(text)
        if refs is None:
            refs = Refs()
            if '{{' in text or '{%' in text:
                try:
                    _walk(_ENV.parse(text), refs)
                except TemplateSyntaxError:
                    refs.names.add(EVERYTHING)
            self._memo[text] = refs
        return refs

    def of_value(self, value, refs=None):
        """Every template in a (nested) value."""
        if refs is None and isinstance(value, (dict, list, tuple)):
            # Memoized by identity; the value is kept alive with its entry, so its id stays its own.
            hit = self._values.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            refs = Refs()
            self._walk_value(value, refs)
            self._values[id(value)] = (value, refs)
            return refs
        refs = refs if refs is not None else Refs()
        self._walk_value(value, refs)
        return refs

    def _walk_value(self, value, refs):
        if isinstance(value, str):
            refs.update(self.of_template(value))
        elif isinstance(value, dict):
            for k, v in value.items():
                self._walk_value(k, refs)
                self._walk_value(v, refs)
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._walk_value(v, refs)

    def closure(self, seeds, *definitions):
        """All that `seeds` (a Refs) can read, following names through `definitions` (dicts of
        name -> raw value, searched in order; every definition of a name is followed)."""
        out = Refs()
        out.update(seeds)
        todo = list(seeds.names)
        seen_patterns = set()
        while True:
            while todo:
                name = todo.pop()
                for defs in definitions:
                    if name in defs:
                        more = self.of_value(defs[name])
                        new = more.names - out.names
                        out.update(more)
                        todo.extend(new)
            new_patterns = out.patterns - seen_patterns
            if not new_patterns:
                return out
            seen_patterns |= new_patterns
            regexes = [re.compile(p) for p in new_patterns]
            for defs in definitions:
                for name in defs:
                    if name not in out.names and any(r.match(str(name)) for r in regexes):
                        out.names.add(name)
                        todo.append(name)
