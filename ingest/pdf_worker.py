"""The PDF parser process: request on stdin, one JSON reply on stdout.

Input: a JSON line `{"password": ...}` followed by the PDF bytes. Output:
`{"pages": [...], "unreadable_pages": [...]}` or `{"error": "reason"}`.
"""

import json
import sys

from ingest.parsing import parse_pdf_in_this_process

if __name__ == "__main__":
    header, _, pdf = sys.stdin.buffer.read().partition(b"\n")
    reply = parse_pdf_in_this_process(pdf, json.loads(header)["password"], int(sys.argv[1]))
    sys.stdout.write(json.dumps(reply))
