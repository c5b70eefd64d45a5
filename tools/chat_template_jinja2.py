#!/usr/bin/env python3
"""Renders chat templates with Python's jinja2 configured as transformers' apply_chat_template configures it:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols extension, a
{% generation %} tag that renders its body, transformers' tojson (no HTML escaping, non-ASCII kept), and the
globals raise_exception and strftime_now. Written for align4j (tools/tokenizer_goldens.mjs calls it); it is the
reference the goldens' "text" comes from when jinja2 is installed.

stdin: JSON list of {"template": str, "context": {...}}; stdout: JSON list of {"text": str} or {"error": str}.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body).set_lineno(lineno)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    out = []
    for job in json.load(sys.stdin):
        try:
            out.append({"text": env.from_string(job["template"]).render(**job["context"])})
        except Exception as e:  # the goldens record the failure
            out.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
