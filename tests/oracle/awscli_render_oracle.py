#!/usr/bin/env python3
"""The aws CLI v1's own renderers as a long-lived oracle: the reference for tests/render_oracle.rs.

Reads one JSON request per line on stdin and answers one JSON line on stdout:

  {"format": "json" | "text" | "table", "title": "ListAccessKeys", "width": 80,
   "value": <any JSON value>, "query": null | "<JMESPath>"}
  -> {"ok": "<what aws prints>"}   or   {"error": "<exception class>: <message>"}
     or {"error": ..., "syntax": true} where jmespath.py refuses the query itself (aws then
     stops before calling the service: a usage error)

The value goes through awscli.formatter's JSONFormatter, TextFormatter or TableFormatter (colour
off) exactly as `aws` sends a response through them: without a query, the value is wrapped as
{"Value": value} and the query `Value` takes it out again, so that any JSON value (a bare list or
scalar, as a --query result can be) is rendered the way aws renders a query result. With a
query, the value (an object) is the response and the query is applied by the formatter. The
table's width is set on the MultiTable instead of being read from the terminal (table.py's
determine_terminal_width gives 80 when stdout is not a terminal).

Run it with the Python that has awscli v1 (the test venv: target/test-venv/bin/python).
"""

import io
import json
import sys
from argparse import Namespace

import jmespath
from jmespath.exceptions import ParseError
from awscli.formatter import JSONFormatter, TableFormatter, TextFormatter


class QueryRefused(Exception):
    """jmespath.py could not compile the query (its ParseError, LexerError included)."""


def render(request):
    value = request["value"]
    query = request.get("query")
    if query is None:
        response = {"Value": value}
        query = "Value"
    else:
        response = value
    try:
        compiled = jmespath.compile(query)
    except ParseError as e:
        raise QueryRefused("%s: %s" % (type(e).__name__, e)) from e
    args = Namespace(query=compiled, color="off")
    fmt = request["format"]
    if fmt == "json":
        formatter = JSONFormatter(args)
    elif fmt == "text":
        formatter = TextFormatter(args)
    elif fmt == "table":
        formatter = TableFormatter(args)
        formatter.table._terminal_width = request.get("width", 80)
    else:
        raise ValueError("unknown format %r" % fmt)
    stream = io.StringIO()
    formatter(request.get("title", "Operation"), response, stream)
    return stream.getvalue()


def main():
    sys.stdin.reconfigure(encoding="utf-8")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = {"ok": render(json.loads(line))}
        except QueryRefused as e:
            answer = {"error": str(e), "syntax": True}
        except Exception as e:  # the aws CLI fails on these values too
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
