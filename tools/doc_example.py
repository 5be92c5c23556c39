"""Regenerate the exchange example of docs/protocol.md from the real codec (tests/core/test_protocol.py).

    python -m tools.doc_example        rewrite the block and its digest in docs/protocol.md
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.core.test_protocol import example_exchange

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def main() -> None:
    text = example_exchange()
    doc = DOC.read_text()
    start = doc.index("```text\n", doc.index("## Exchange example")) + len("```text\n")
    end = doc.index("```", start)
    doc = doc[:start] + text + doc[end:]
    marker = "sha256 of the block: "
    i = doc.index(marker) + len(marker)
    doc = doc[:i] + hashlib.sha256(text.encode()).hexdigest() + doc[i + 64 :]
    DOC.write_text(doc)
    print(f"{DOC}: example rewritten ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    main()
