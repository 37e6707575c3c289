#!/usr/bin/env python3
"""The aws CLI v2's YAML output, rebuilt from ruamel.yaml: an optional oracle for
tests/render_oracle.rs (`yaml_renders_as_ruamel`, run when RUAMEL_PYTHON names a Python with
ruamel.yaml <= 0.17.21 and ruamel.yaml.clib, the versions aws-cli v2 pins).

v2's YAMLDumper (awscli/formatter.py, branch v2) dumps with YAML(typ='safe') and
default_flow_style = False, and writes a bare scalar with json.dump; yaml-stream dumps
[response]. Same line protocol as awscli_render_oracle.py: {"format": "yaml" | "yaml-stream",
"value": ...} -> {"ok": text} | {"error": ...}.
"""

import io
import json
import sys

from ruamel.yaml import YAML


def dump(value, stream):
    if isinstance(value, (dict, list)):
        y = YAML(typ="safe")
        y.default_flow_style = False
        y.dump(value, stream)
    else:
        json.dump(value, stream)
        stream.write("\n")


def main():
    sys.stdin.reconfigure(encoding="utf-8")
    for line in sys.stdin:
        request = json.loads(line)
        stream = io.StringIO()
        try:
            value = request["value"]
            if value != {}:
                if request["format"] == "yaml-stream":
                    dump([value], stream)
                else:
                    dump(value, stream)
            answer = {"ok": stream.getvalue()}
        except Exception as e:
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
